"""`tv2tv bench`, `train-judge` and `speed`: how well a world obeys words (judged by an
inverse-dynamics model trained on real frames) and how fast it draws."""
from __future__ import annotations

import json
from pathlib import Path

from tv2tv_env.errors import UserError
from tv2tv_env.games import CARDS, DEFAULT_GAME



def add_commands(sub):
    add_bench(sub)
    add_train_judge(sub)
    add_speed(sub)


def add_bench(sub):
    b = sub.add_parser("bench", help="controllability benchmark: TV2TV against baselines, judged on held-out play",
                       description="Roll out every model from the same real held-out starts under the same commands; "
                       "an inverse-dynamics judge trained on real frames reads what happened. Writes OUT/report.json, "
                       "OUT/report.md, plots and a side-by-side video (OUT/rollouts.mp4).")
    b.add_argument("--checkpoint", default=None, help="the TV2TV model (default: the shipped one)")
    b.add_argument("--baselines", nargs="*", default=[], metavar="DIR",
                   help="baseline runs (tv2tv train --conditioning prompt|plan|action_id); copy-last-frame is "
                   "always included")
    b.add_argument("--data", required=True, help="recorded dataset with held-out episodes")
    b.add_argument("--judge", default=None, help="judge directory (default: the checkpoint's judge/)")
    b.add_argument("--episodes", type=int, default=8, help="held-out episodes (2 starts each; default 8)")
    b.add_argument("--horizon", type=int, default=16, help="rollout chunks for PSNR/SSIM (default 16)")
    b.add_argument("--commands", default=None, metavar="FILE",
                   help="your own new-word wordings to test instead of the built-in ones, one per line: "
                        "action_label<TAB>text")
    b.add_argument("--long-horizon", type=int, default=256, metavar="CHUNKS",
                   help="chunks of the long rollouts in which each model writes its own text (default 256 = 64 s; "
                        "0: skip)")
    b.add_argument("--off-topic-steps", type=int, default=200,
                   help="steps of off-topic commands for the episode-end test (default 200; 0: skip)")
    b.add_argument("--thought-steps", type=int, default=500,
                   help="chunks the model writes its own text for the empty-thought count (default 500; 0: skip)")
    b.add_argument("--outcome-chunks", type=int, default=256,
                   help="random held-out chunks (beside every reward event and episode end) on which the reward and "
                        "end heads are checked against the real game (default 256; 0: skip)")
    b.add_argument("--cache", default=None, choices=["exact", "rolling"],
                   help="when the oldest context chunk drops out: cut the chunk out of the KV cache (rolling, the "
                        "default, as the envs do) or rebuild the cache (exact, as trained; slower)")
    b.add_argument("--distilled", default=None, metavar="DIR",
                   help="also bench the TV2TV model drawing with this student of `tv2tv distill` (RUN/student), "
                        "as one more row")
    b.add_argument("--decoder", default="full", choices=["full", "auto", "tiny"],
                   help="what draws every model's frames: full (the VAE decoder, the default: the same for every "
                        "model and every earlier report), auto (each checkpoint's tiny decoder where it ships one), "
                        "tiny")
    b.add_argument("--skip-starts-after", nargs="*", default=None, metavar="ACTION",
                   help="take no start whose context ends in one of these actions: states where the engine ignores "
                        "commands, so that every start can be steered (default: the card's unresponsive_actions, "
                        "Crafter: sleep; given with no action: none)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--device", default="auto")
    b.add_argument("--out", required=True, help="output directory")
    b.add_argument("--quiet", action="store_true")
    b.set_defaults(func=cmd_bench)


def add_train_judge(sub):
    j = sub.add_parser("train-judge", help="train the benchmark's inverse-dynamics judge on real frames",
                       description="Train the judge (which action happened between two chunks) on the held-in "
                       "episodes of DATA; report its accuracy on the held-out ones (of --eval-data if given).")
    j.add_argument("--data", required=True, help="recording to train on (its train split)")
    j.add_argument("--eval-data", default=None,
                   help="recording whose held-out split measures the judge (default: DATA); give the world model's "
                   "dataset when DATA is a recording made for the judge alone")
    j.add_argument("--out", required=True, help="judge directory (config.json, model.safetensors, report.json)")
    j.add_argument("--max-episodes", type=int, default=120, help="training episodes held in memory")
    j.add_argument("--channels", type=int, default=32)
    j.add_argument("--no-mirror-average", action="store_true",
                   help="read each pair once, not also mirrored left-right (half the cost, lower accuracy)")
    j.add_argument("--resume", action="store_true",
                   help="continue a stopped run from OUT (its train_state.pt, saved every two minutes)")
    from tv2tv_env.training.args import JUDGE_ARGS, add_train_flags

    add_train_flags(j, JUDGE_ARGS, ("max_minutes", "max_steps", "batch_size", "lr", "seed", "device", "precision"))
    j.add_argument("--quiet", action="store_true")
    j.set_defaults(func=cmd_train_judge)


def add_speed(sub):
    sp = sub.add_parser("speed", help="measure generation speed (frames/s), one JSON object",
                        description="Generated frames per second through the env: one stream and the batched "
                        "vector env, with and without the KV cache, per precision. Prints one JSON object.")
    sp.add_argument("--checkpoint", default=None, help="checkpoint or run directory (default: the shipped model)")
    sp.add_argument("--game", default=DEFAULT_GAME, choices=list(CARDS))
    sp.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda")
    sp.add_argument("--num-envs", type=int, nargs="+", default=[1, 8, 32], help="stream counts (default 1 8 32)")
    sp.add_argument("--precision", nargs="+", default=["auto", "fp32"], choices=["auto", "bf16", "fp32"])
    sp.add_argument("--repeats", type=int, default=6, help="timed steps per figure (default 6, after a warm-up)")
    sp.add_argument("--no-uncached", action="store_true", help="skip the (slow) no-KV-cache figures")
    sp.add_argument("--breakdown", type=int, nargs="*", default=[], metavar="N",
                    help="where a step's time goes (text, Euler steps, appending, cache rebuild, decode and env) "
                         "for these stream counts, e.g. --breakdown 1 32")
    sp.add_argument("--no-rolling", action="store_true", help="skip the rolling-cache figures")
    sp.add_argument("--distilled", default=None, metavar="DIR",
                    help="also measure the envs drawing with this student of `tv2tv distill` (RUN/student)")
    sp.add_argument("--judge", default=None, metavar="DIR",
                    help="with --data: also the judge's accuracy on held-out chunks through each decoder")
    sp.add_argument("--data", default=None, metavar="DIR", help="a recording whose held-out chunks --judge reads")
    sp.add_argument("--out", default=None, help="also write the JSON here")
    sp.set_defaults(func=cmd_speed)


def cmd_bench(a):
    from tv2tv_env.bench.benchmark import run_benchmark
    from tv2tv_env.world import DEFAULT_CACHE, resolve_checkpoint

    judge = a.judge or resolve_checkpoint(a.checkpoint).root / "judge"
    report = run_benchmark(a.checkpoint, a.data, judge, a.out, a.baselines, a.episodes, a.horizon, a.commands,
                           seed=a.seed, device=a.device, progress=not a.quiet, long_horizon=a.long_horizon,
                           off_topic_steps=a.off_topic_steps, thought_steps=a.thought_steps,
                           outcome_chunks=a.outcome_chunks, cache=a.cache or DEFAULT_CACHE, distilled=a.distilled,
                           skip_starts_after=a.skip_starts_after, decoder=a.decoder)
    print((Path(a.out) / "report.md").read_text())
    print(f"tv2tv bench: wrote {a.out}/report.json, report.md, accuracy_per_action.png, psnr_vs_horizon.png"
          f"{', frechet_vs_horizon.png' if a.long_horizon else ''}, rollouts.mp4 ({len(report['models'])} models)")
    return 0


def cmd_train_judge(a):
    from tv2tv_env.bench.judge import train_judge
    from tv2tv_env.training.args import JUDGE_ARGS, train_args_from

    report = train_judge(a.data, a.out, train_args_from(a, JUDGE_ARGS), max_episodes=a.max_episodes,
                         channels=a.channels, eval_data=a.eval_data, mirror_average=not a.no_mirror_average,
                         resume=a.resume, progress=not a.quiet)
    print(json.dumps({k: report[k] for k in ("accuracy", "train_accuracy", "trust_note", "train_samples",
                                             "heldout_samples")}))
    return 0


def cmd_speed(a):
    from tv2tv_env.bench.speed import run_speed

    if (a.judge is None) != (a.data is None):
        raise UserError("--judge and --data go together: the judge reads the held-out chunks of DATA through each decoder")
    result = run_speed(a.checkpoint, a.game, a.device, a.precision, a.num_envs, a.repeats, not a.no_uncached,
                       a.breakdown, rolling=not a.no_rolling, distilled=a.distilled, judge=a.judge, data=a.data)
    text = json.dumps(result, indent=1)
    if a.out:
        Path(a.out).write_text(text + "\n")
    print(text)
    return 0
