"""Training: one loop (`loop.fit`) and the tasks it trains.

    loop.py         TrainArgs (every trainer's settings and flags), Task, fit, checkpoints
    world_model.py  the TV2TV world model (model/flow.py's loss on recorded windows)
    vae.py          the frame VAE (diffusers AutoencoderKL)
    distill.py      a few-step student of a world model
    export.py       a run's weights in fp16 for shipping (`tv2tv export-weights`)

The judge's task lives with the judge (bench/judge.py `JudgeTask`). `model/` keeps the
networks and their mathematics; nothing here knows games or the command line.
"""
