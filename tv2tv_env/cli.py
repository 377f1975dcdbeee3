"""The `tv2tv` command line: one subcommand per job; `tv2tv <command> --help` for each.

User mistakes (a `UserError`) print one line and exit with status 2; nothing else is
caught, so real bugs keep their traceback.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path

from .errors import UserError
from .games import CARDS, DEFAULT_GAME, get_card

KNOWN_GAMES = ", ".join(CARDS)


def _record_game_kwargs(a) -> dict | None:
    """The engine options given (--scenario, --player), refused for a game whose card lacks them."""
    kw, flags = {}, {"scenarios": "--scenario", "player": "--player"}
    if a.scenario:
        kw["scenarios"] = a.scenario
    if a.player:
        kw["player"] = a.player
    options = get_card(a.game).engine_options if a.game else ()
    unknown = [flags[k] for k in kw if k not in options]
    if unknown:
        raise UserError(f"{a.game or a.env} takes no {' or '.join(unknown)} (its game card lists no such engine option)")
    return kw or None


def cmd_record(a):
    from .record import env_card, record

    if (a.game is None) == (a.env is None):
        raise UserError("record needs exactly one of --game NAME (a built-in game card) and --env ID (any Gymnasium env)")
    if a.env is None and (a.env_kwargs or a.card):
        raise UserError("--env-kwargs and --card go with --env ID")
    game, game_kwargs = a.game, _record_game_kwargs(a)  # engine options are checked before any engine starts
    if a.env is not None:
        try:
            env_kwargs = json.loads(a.env_kwargs) if a.env_kwargs else {}
        except json.JSONDecodeError as e:
            raise UserError(f"--env-kwargs is not JSON ({e}); for example --env-kwargs '{{\"frameskip\": 4}}'") from None
        if not isinstance(env_kwargs, dict):
            raise UserError("--env-kwargs must be a JSON object, for example '{\"frameskip\": 4}'")
        game = env_card(a.env, env_kwargs, a.card, a.height, a.width, a.frames_per_chunk).name
    summary = record(game, a.episodes, a.max_chunks, a.out, seed=a.seed, workers=a.workers,
                     height=a.height, width=a.width, frames_per_chunk=a.frames_per_chunk,
                     heldout=a.heldout, compression=a.compression, progress=not a.quiet,
                     game_kwargs=game_kwargs)
    print(json.dumps(summary))
    return 0


def cmd_validate(a):
    from .dataset import validate

    meta, rep = validate(a.dir)
    chunks = sum(n for _, n, _ in rep.good)
    held = sum(1 for *_, s in rep.good if s == "heldout")
    print(f"{a.dir}: {meta['game']} {meta['height']}x{meta['width']}, {meta['frames_per_chunk']} frames/chunk")
    print(f"  {len(rep.good)} good episodes ({len(rep.good) - held} train, {held} held out), "
          f"{chunks} chunks, {chunks * meta['frames_per_chunk']} frames")
    for name in rep.incomplete:
        print(f"  note: {name} is an unfinished episode (recording running or killed); ignored")
    for name, why in rep.bad:
        print(f"  BAD {name}: {why}")
    if not rep.good and not rep.bad:
        print("  no episodes")
        return 1
    return 1 if rep.bad else 0


def cmd_strip(a):
    import numpy as np

    from .dataset import iter_episodes
    from .strip import frame_strip

    for path, ep in iter_episodes(a.dir, "all"):
        if a.episode is not None and ep.attrs.get("episode") != a.episode:
            continue
        s = min(a.start, max(0, len(ep) - 1))
        e = min(len(ep), s + a.chunks)
        title = f"{ep.attrs['game']} / {ep.attrs.get('scenario')} / {path.name} chunks {s + 1}-{e} (recorded)"
        img = frame_strip(np.asarray(ep.frames[s:e]), ep.text[s:e], scale=a.scale, title=title)
        img.save(a.out)
        print(a.out)
        return 0
    raise UserError(f"no readable episode{'' if a.episode is None else f' {a.episode}'} in {a.dir}")


def cmd_train_vae(a):
    import torch

    from model.train_vae import train_vae
    from model.vae import VAEConfig

    from .dataset import load_frames, read_meta

    meta = read_meta(a.data)
    train = torch.from_numpy(load_frames(a.data, "train", a.max_frames))
    held = torch.from_numpy(load_frames(a.data, "heldout", 4096))
    print(f"train-vae: {len(train)} train frames, {len(held)} held-out frames of {meta['game']}", file=sys.stderr)
    summary = train_vae(train, held, a.out, VAEConfig(latent_channels=a.latent_channels), max_steps=a.max_steps,
                        max_minutes=a.max_minutes, batch=a.batch, lr=a.lr, device=a.device,
                        eval_every=a.eval_every, progress=not a.quiet)
    summary["data"] = str(a.data)
    summary["game"] = meta["game"]
    print(json.dumps(summary))
    return 0


def cmd_encode(a):
    from .latents import encode_dataset

    summary = encode_dataset(a.data, a.vae, batch=a.batch, progress=not a.quiet, device=a.device,
                             precision_mode=a.precision)
    summary["data"] = str(a.data)
    print(json.dumps(summary))
    return 0


def cmd_tokenizer(a):
    import numpy as np

    from model.tokenizer import special_ids, train_tokenizer

    from .dataset import iter_episodes, read_meta
    from .text_corpus import describer_corpus

    recorded = []
    if a.data:
        meta = read_meta(a.data)  # a recorded Gymnasium env's card is known from here on
        a.game = a.game or meta["game"]
        if meta["game"] != a.game:
            raise UserError(f"{a.data} is a {meta['game']} dataset, not {a.game}; pass --game {meta['game']}")
        for _, ep in iter_episodes(a.data, "all", frames=False):
            recorded += ep.text
    if not a.game:
        raise UserError("tokenizer needs --game NAME or --data DIR (whose game it then is)")
    corpus = describer_corpus(a.game)
    tok = train_tokenizer(corpus + recorded, vocab_size=a.vocab_size)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(str(out))
    measured = recorded or corpus  # tokens per chunk text: the recorded texts when given
    counts = np.array([len(ids) for ids in tok(measured, add_special_tokens=False)["input_ids"]])
    print(json.dumps({"out": str(out), "game": a.game, "vocab_size": len(tok), "special_ids": special_ids(tok),
                      "corpus_texts": len(corpus), "recorded_texts": len(recorded),
                      "tokens_per_text": {"of": "recorded" if recorded else "corpus", "mean": round(float(counts.mean()), 2),
                                          "p99": int(np.percentile(counts, 99)), "max": int(counts.max())}}))
    return 0


def cmd_export(a):
    from .export_minari import export_minari

    summary = export_minari(a.minari, a.dataset_id, out=a.out)
    print(json.dumps(summary))
    return 0


def cmd_demo(a):
    """The default model, played: a window where there is a display, else a scripted session
    with text interventions written to demo.mp4 and a frame strip with each chunk's text."""
    import gymnasium as gym

    from agents.play import play

    from .demo import ChunkLog, display_available, write_strip

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    env = ChunkLog(gym.make("TV2TV/Doom-v0", checkpoint=a.checkpoint, device=a.device))
    if not a.headless and display_available():
        print("demo: opening the play window (H for help, Esc to quit)")
        summary = play(env, seed=a.seed)
        print(json.dumps(summary))
        return 0
    summary = play(env, steps=a.steps, headless=True, video=out / "demo.mp4", screenshot=out / "demo.png",
                   seed=a.seed, commands=a.commands)
    strip = write_strip(env.log, out / "strip.png")
    print(f"demo: the default world model played {summary['steps']} steps ({summary['frames']} frames) under "
          f"typed commands, {summary['generated_frames_per_s']} generated frames/s")
    print(f"demo: video of the play window: {summary['video']}")
    print(f"demo: frame strip with the text of each chunk: {strip}")
    print(f"demo: last window frame: {summary['screenshot']}")
    print("demo: play it yourself with `tv2tv play` (a window; H shows the keys)")
    return 0


def cmd_train(a):
    from .train_world import run_training

    result = run_training(a.data, a.out, config=a.config, max_steps=a.max_steps, max_minutes=a.max_minutes,
                          resume=a.resume, batch_size=a.batch_size, lr=a.lr, grad_accum=a.grad_accum, vae=a.vae,
                          tokenizer=a.tokenizer, device=a.device, eval_every=a.eval_every, seed=a.seed,
                          samples=not a.no_samples, progress=not a.quiet, conditioning=a.conditioning,
                          init_from=a.init_from, balance_actions=a.balance_actions,
                          language_prior=not a.no_language_prior,
                          overrides={"clean_flip": a.clean_flip} if a.clean_flip else None)
    if int(os.environ.get("RANK", 0)) == 0:  # under torchrun, one process reports
        print(json.dumps(result))
    if result["stopped_by_signal"]:  # saved, not finished: scripts must not go on as if it were
        print(f"train: stopped by a signal at step {result['step']}; --resume continues it", file=sys.stderr)
        return 128 + signal.SIGTERM
    return 0


def cmd_contexts(a):
    from .contexts import CONTEXT_FILE, make_contexts, save_contexts
    from .world import resolve_checkpoint

    paths = resolve_checkpoint(a.checkpoint)
    ctx = make_contexts(a.data, paths.vae, a.chunks, per_episode=a.per_episode, max_contexts=a.max_contexts,
                        seed=a.seed, split=a.split)
    out = save_contexts(ctx, a.out or paths.root / CONTEXT_FILE)
    print(json.dumps({"contexts": len(ctx), "chunks": a.chunks, "game": ctx.game, "out": str(out)}))
    return 0


def cmd_speed(a):
    from .speed import run_speed

    result = run_speed(a.checkpoint, a.game, a.device, a.precision, a.num_envs, a.repeats, not a.no_uncached,
                       a.breakdown)
    text = json.dumps(result, indent=1)
    if a.out:
        Path(a.out).write_text(text + "\n")
    print(text)
    return 0


def cmd_play(a):
    from agents.play import run

    return run(a)


def cmd_bench(a):
    from .bench.benchmark import run_benchmark
    from .world import resolve_checkpoint

    judge = a.judge or resolve_checkpoint(a.checkpoint).root / "judge"
    report = run_benchmark(a.checkpoint, a.data, judge, a.out, a.baselines, a.episodes, a.horizon, a.commands,
                           seed=a.seed, device=a.device, progress=not a.quiet, long_horizon=a.long_horizon,
                           off_topic_steps=a.off_topic_steps, thought_steps=a.thought_steps,
                           outcome_chunks=a.outcome_chunks)
    print((Path(a.out) / "report.md").read_text())
    print(f"tv2tv bench: wrote {a.out}/report.json, report.md, accuracy_per_action.png, psnr_vs_horizon.png"
          f"{', frechet_vs_horizon.png' if a.long_horizon else ''}, rollouts.mp4 ({len(report['models'])} models)")
    return 0


def cmd_train_judge(a):
    from .bench.judge import train_judge

    report = train_judge(a.data, a.out, minutes=a.minutes, max_episodes=a.max_episodes, seed=a.seed,
                         device=a.device, channels=a.channels, progress=not a.quiet, eval_data=a.eval_data,
                         mirror_average=not a.no_mirror_average, batch_size=a.batch_size, lr=a.lr,
                         resume=a.resume)
    print(json.dumps({k: report[k] for k in ("accuracy", "train_accuracy", "trust_note", "train_samples",
                                             "heldout_samples")}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tv2tv", description="TV2TV Gym: a text-controllable neural game world.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("record", help="record real game play (frames + text) into an HDF5 dataset",
                       description="Record real game play from a real engine with a scripted player.")
    r.add_argument("--game", default=None, help=f"a built-in game card to record: {KNOWN_GAMES}")
    r.add_argument("--env", default=None, metavar="ID",
                   help="or any registered Gymnasium env with RGB frames and a Discrete, MultiDiscrete or MultiBinary "
                        "action space (e.g. ALE/Pong-v5, MiniGrid-Empty-5x5-v0); its words come from --card or the "
                        "env's own action names")
    r.add_argument("--env-kwargs", default=None, metavar="JSON", help="keyword arguments of gymnasium.make, as JSON")
    r.add_argument("--card", default=None, metavar="FILE",
                   help='with --env: a JSON card, {"actions": {"name": ["phrase", ...]}} in the env\'s action order, '
                        "plus any GameCard field (tv2tv_env/games/card.py)")
    r.add_argument("--episodes", type=int, required=True, help="episodes to record")
    r.add_argument("--max-chunks", type=int, required=True, help="chunks per episode at most (episodes end early on death)")
    r.add_argument("--out", required=True, help="dataset directory (created; an existing one of the same game is appended to)")
    r.add_argument("--seed", type=int, default=0, help="episode i uses seed+i (default 0)")
    r.add_argument("--workers", type=int, default=1, help="parallel recording processes (default 1)")
    r.add_argument("--height", type=int, default=None, help="frame height (default: the game card's, 64)")
    r.add_argument("--width", type=int, default=None, help="frame width (default: the game card's, 64)")
    r.add_argument("--frames-per-chunk", type=int, default=None,
                   help="frames an action is held for (default: the game card's, 4)")
    r.add_argument("--heldout", type=float, default=0.1, help="fraction of episodes held out (default 0.1)")
    r.add_argument("--scenario", action="append", help="Doom only: scenario(s), e.g. defend_the_center or freedoom2:MAP01")
    r.add_argument("--player", default=None, choices=["dodge", "hold"],
                   help="Doom only: the scripted player's style (default dodge, as data/doom was recorded; hold keeps "
                        "a mode's strafe, attack and random action for the whole mode: see games/doom.py)")
    r.add_argument("--compression", default="gzip", choices=["gzip", "lzf"], help="HDF5 compression (default gzip)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_record)

    v = sub.add_parser("validate", help="check every episode of a dataset", description="Check every episode: "
                       "shapes, dtypes, lengths, text present, checksums. Exit 0 only when all is well.")
    v.add_argument("dir")
    v.set_defaults(func=cmd_validate)

    s = sub.add_parser("strip", help="draw a PNG of recorded frames with their text")
    s.add_argument("dir")
    s.add_argument("--out", default="strip.png")
    s.add_argument("--episode", type=int, default=None, help="episode index (default: the first readable)")
    s.add_argument("--start", type=int, default=0, help="first chunk")
    s.add_argument("--chunks", type=int, default=6, help="rows (chunks) to draw")
    s.add_argument("--scale", type=int, default=2)
    s.set_defaults(func=cmd_strip)

    t = sub.add_parser("train-vae", help="train the frame VAE on a recorded dataset",
                       description="Train the frame VAE (diffusers AutoencoderKL) from scratch on recorded frames; "
                       "writes OUT (config.json + safetensors) and OUT.metrics.jsonl; reports held-out PSNR.")
    t.add_argument("--data", required=True, help="dataset directory from `tv2tv record`")
    t.add_argument("--out", required=True, help="output directory for the VAE")
    t.add_argument("--max-steps", type=int, default=20000)
    t.add_argument("--max-minutes", type=float, default=None, help="stop after this many minutes (cosine LR follows)")
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--latent-channels", type=int, default=8)
    t.add_argument("--max-frames", type=int, default=None, help="use at most this many training frames")
    t.add_argument("--eval-every", type=int, default=500)
    t.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_train_vae)

    e = sub.add_parser("encode", help="encode every recorded frame with a trained VAE (the latent cache)",
                       description="Encode every frame of a dataset once with a trained VAE and keep the latents in "
                       "DATA/latents/<key>/ (key: a hash of the VAE's files). Episodes already cached are skipped.")
    e.add_argument("--data", required=True, help="dataset directory from `tv2tv record`")
    e.add_argument("--vae", required=True, help="VAE directory from `tv2tv train-vae`")
    e.add_argument("--batch", type=int, default=None,
                   help="frames per forward pass (default 16 on the CPU, where it is fastest; 256 on a GPU)")
    e.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda")
    e.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"],
                   help="auto: bf16 only where the device runs it natively")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=cmd_encode)

    k = sub.add_parser("tokenizer", help="train the text tokenizer (byte-level BPE) on the describer's text",
                       description="Train a byte-level BPE on every phrasing the game's describer can write (plus the "
                       "recorded texts of --data) and save it as a Hugging Face fast tokenizer in OUT.")
    k.add_argument("--game", default=None, help=f"whose describer: {KNOWN_GAMES} (default: --data's game)")
    k.add_argument("--out", required=True, help="output directory (tokenizer.json, tokenizer_config.json)")
    k.add_argument("--data", default=None, help="also train on the texts of this recorded dataset")
    k.add_argument("--vocab-size", type=int, default=512)
    k.set_defaults(func=cmd_tokenizer)

    x = sub.add_parser("export", help="export a recorded dataset to another format (today: Minari)",
                       description="Export a recorded dataset as a Minari dataset (needs the optional extra: "
                       "pip install -e \".[minari]\"). One Minari step per chunk: observation = the chunk's last "
                       "frame, action = its text; the chunk's frames and action id go into infos.")
    x.add_argument("--minari", required=True, metavar="DIR", help="dataset directory from `tv2tv record`")
    x.add_argument("--dataset-id", required=True, metavar="NAME", help="Minari id, (namespace/)name-vN, e.g. tv2tv/doom-v0")
    x.add_argument("--out", default=None, metavar="MINARI_ROOT",
                   help="Minari datasets root (default: $MINARI_DATASETS_PATH, else ~/.minari/datasets)")
    x.set_defaults(func=cmd_export)

    tr = sub.add_parser("train", help="train the TV2TV world model on a recorded dataset",
                        description="Train the MoT world model on a dataset's latent cache (run `tv2tv encode` "
                        "first). Writes RUN/ckpt (atomic), RUN/metrics.jsonl and RUN/samples. SIGTERM saves and "
                        "exits; --resume continues exactly. Multi-GPU: torchrun --nproc-per-node N -m tv2tv_env.cli train ...")
    tr.add_argument("--data", required=True, help="dataset directory (with its latent cache)")
    tr.add_argument("--out", required=True, help="run directory")
    tr.add_argument("--config", default="small", help="tiny, small, base, or a JSON file (default small)")
    from model.config import TrainArgs as T  # the defaults, declared once

    tr.add_argument("--max-steps", type=int, default=T.max_steps, help=f"(default {T.max_steps})")
    tr.add_argument("--max-minutes", type=float, default=T.max_minutes,
                    help="wall-clock budget (the LR schedule follows it)")
    tr.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    tr.add_argument("--init-from", default=None, metavar="DIR",
                    help="when --out has no checkpoint: continue from weights exported by scripts/export_weights.py "
                    "(their step from DIR/train_progress.json, a fresh optimizer); for runs spanning machines")
    tr.add_argument("--batch-size", type=int, default=T.batch_size, help=f"global batch in windows (default {T.batch_size})")
    tr.add_argument("--grad-accum", type=int, default=T.grad_accum)
    tr.add_argument("--lr", type=float, default=T.lr, help=f"peak learning rate (default {T.lr:g})")
    tr.add_argument("--vae", default=None, help="VAE directory (default: the shipped checkpoints/doom-small/vae)")
    tr.add_argument("--tokenizer", default=None, help="tokenizer directory (default: the shipped one)")
    tr.add_argument("--device", default=T.device, help="auto (CUDA if present), cpu or cuda")
    tr.add_argument("--eval-every", type=int, default=T.eval_every)
    tr.add_argument("--seed", type=int, default=T.seed)
    tr.add_argument("--no-samples", action="store_true", help="do not draw sample rollouts")
    tr.add_argument("--conditioning", default="text", choices=["text", "prompt", "plan", "action_id"],
                    help="text: TV2TV (default); prompt (T2V), plan (Think2V), action_id: the benchmark's baselines")
    tr.add_argument("--balance-actions", type=float, default=0.0, metavar="POWER",
                    help="draw windows with rare actions more: weight (1/action frequency)**POWER, averaged over "
                         "the window's chunks (1: actions about equally often; default 0: uniform epochs)")
    tr.add_argument("--clean-flip", type=float, default=0.0, metavar="P",
                    help="the paper's clean-copy flip against exposure bias: chance that a chunk's clean copy, "
                         "which later chunks see, is its noisy copy (default 0: off)")
    tr.add_argument("--no-language-prior", action="store_true",
                    help="TV2TV without the frozen sentence encoder's command vectors (the model before 2026-12); "
                         "baselines never use it")
    tr.add_argument("--quiet", action="store_true")
    tr.set_defaults(func=cmd_train)

    c = sub.add_parser("contexts", help="take real start contexts for a checkpoint from held-out episodes",
                       description="Write CHECKPOINT/contexts.npz: a few chunks of real play (latents, frames, text) "
                       "from held-out episodes of DATA, which the env starts its episodes from. `tv2tv train` "
                       "writes them into each run; use this for a checkpoint made otherwise.")
    c.add_argument("--data", required=True, help="dataset directory with a latent cache for the checkpoint's VAE")
    c.add_argument("--checkpoint", required=True, help="checkpoint or run directory (its vae/ encodes the frames)")
    c.add_argument("--chunks", type=int, default=4, help="chunks per context (default 4 = the default context size)")
    c.add_argument("--max-contexts", type=int, default=48)
    c.add_argument("--per-episode", type=int, default=2, help="starts per episode: its first chunks and random later "
                   "points (default 2)")
    c.add_argument("--split", default=None, choices=["heldout", "train", "all"],
                   help="episodes to take them from (default: held-out, or training ones where there are none); "
                        "many training starts suit RL in imagination")
    c.add_argument("--out", default=None, help="write here instead of CHECKPOINT/contexts.npz; the env takes it "
                   "with contexts=FILE")
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(func=cmd_contexts)

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
    sp.add_argument("--out", default=None, help="also write the JSON here")
    sp.set_defaults(func=cmd_speed)

    pl = sub.add_parser("play", help="play the world model in a pygame window (or headless to an mp4)",
                        description="Play the world model: keys and typed commands steer it; see the on-screen "
                        "help. --headless runs a command script without a window and writes an mp4.")
    from agents.play import add_arguments as add_play_arguments

    add_play_arguments(pl)
    pl.set_defaults(func=cmd_play)

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
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--device", default="auto")
    b.add_argument("--out", required=True, help="output directory")
    b.add_argument("--quiet", action="store_true")
    b.set_defaults(func=cmd_bench)

    j = sub.add_parser("train-judge", help="train the benchmark's inverse-dynamics judge on real frames",
                       description="Train the judge (which action happened between two chunks) on the held-in "
                       "episodes of DATA; report its accuracy on the held-out ones (of --eval-data if given).")
    j.add_argument("--data", required=True, help="recording to train on (its train split)")
    j.add_argument("--eval-data", default=None,
                   help="recording whose held-out split measures the judge (default: DATA); give the world model's "
                   "dataset when DATA is a recording made for the judge alone")
    j.add_argument("--out", required=True, help="judge directory (config.json, model.safetensors, report.json)")
    j.add_argument("--minutes", type=float, default=10.0)
    j.add_argument("--max-episodes", type=int, default=120, help="training episodes held in memory")
    j.add_argument("--channels", type=int, default=32)
    j.add_argument("--batch-size", type=int, default=64)
    j.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (warmup, then cosine)")
    j.add_argument("--no-mirror-average", action="store_true",
                   help="read each pair once, not also mirrored left-right (half the cost, lower accuracy)")
    j.add_argument("--resume", action="store_true",
                   help="continue a stopped run from OUT.train_state.pt (saved every two minutes)")
    j.add_argument("--seed", type=int, default=0)
    j.add_argument("--device", default="cpu")
    j.add_argument("--quiet", action="store_true")
    j.set_defaults(func=cmd_train_judge)
    d = sub.add_parser("demo", help="the main demo: the default model played (window, or headless mp4 + strip)",
                       description="With a display: the play window on the default model. Without one (or "
                       "--headless): a scripted session with text interventions, written to OUT/demo.mp4 (the play "
                       "window) and OUT/strip.png (frames with the text of each chunk).")
    d.add_argument("--out", default="out/demo", help="where demo.mp4, strip.png and demo.png go (default out/demo)")
    d.add_argument("--steps", type=int, default=40, help="headless: env steps (chunks of 4 frames; default 40)")
    d.add_argument("--commands", default=None, help="headless: a command script instead of the built-in one")
    d.add_argument("--checkpoint", default=None, help="another checkpoint (default: the shipped model)")
    d.add_argument("--device", default="auto")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--headless", action="store_true", help="never open a window")
    d.add_argument("--quiet", action="store_true", help="(kept for scripts; the demo prints only a summary)")
    d.set_defaults(func=cmd_demo)
    from . import build_world  # light: each stage runs in its own process

    bw = sub.add_parser("build-world", help="one command from a game (card, Gymnasium env id or recording) to a "
                        "trained, judged and benchmarked world", description=build_world.__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    build_world.add_arguments(bw)
    bw.set_defaults(func=cmd_build_world)
    from agents import rl_transfer  # light: its heavy imports happen when it runs

    rl = sub.add_parser("rl-transfer", help="sim-to-real RL: PPO trained in the world model vs on the real engine, "
                        "both scored on the real game", description=rl_transfer.__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    rl_transfer.add_arguments(rl)
    rl.set_defaults(func=cmd_rl_transfer)
    return p


def cmd_build_world(a):
    from .build_world import run

    run(a)
    return 0


def cmd_rl_transfer(a):
    from agents.rl_transfer import run

    r = run(a)
    print(json.dumps({"random": r["random"], "dream": r["dream"]["final"], "real": r["real"]["final"],
                      "transfer_ratio": r["transfer_ratio"], "report": str(Path(a.out) / "report.md")}))
    return 0


def main(argv=None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command as typed (build-world's model card)
    try:
        return args.func(args)
    except UserError as e:
        print(f"tv2tv {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tv2tv {args.command}: interrupted; completed episodes/checkpoints are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
