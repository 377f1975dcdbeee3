"""`tv2tv build-world`: one command from a game to a trained, judged and benchmarked world.

    tv2tv build-world --env ALE/Pong-v5 --out worlds/pong --minutes 60
    tv2tv build-world --game crafter --out checkpoints/crafter-small --work runs/crafter-build

OUT becomes a checkpoint that `gymnasium.make("TV2TV/World-v0", checkpoint=OUT)`, `tv2tv play
--checkpoint OUT` and `tv2tv bench --checkpoint OUT` load: model/ (fp16), vae/, tokenizer/,
contexts.npz, judge/, card.json (a Gymnasium env's card), bench/ and README.md (the model card,
written from what the stages measured). WORK (default OUT/build) keeps what is not shipped: the
recordings, the training runs, one log per stage and a record of each finished stage.

The stages, in order (each runs one `tv2tv` subcommand in its own process, logged to
WORK/logs/STAGE.log; a stage that finished is skipped; run the same command again after an
interruption and it goes on where it stopped):

  record      WORK/data           tv2tv record (10% of episodes held out for the judge and bench)
  vae         OUT/vae             tv2tv train-vae on the recording's train split (a game needs its own
                                  VAE: the Doom one draws Breakout's bricks as a band); --vae DIR reuses one
  tokenizer   OUT/tokenizer       tv2tv tokenizer on the describer's phrasings and the recorded text
  encode      WORK/data/latents   tv2tv encode (episodes already cached are skipped)
  decoder     OUT/tiny_decoder    tv2tv train-tiny-decoder: the VAE decoder distilled into a fast one,
                                  which the envs decode with
  train       WORK/run            tv2tv train, --train-minutes of it (resumes from its checkpoint)
  export      OUT/model           fp16 weights, start contexts, the game card
  judge       OUT/judge           tv2tv train-judge on real frames (of WORK/judge-data with --judge-episodes)
  baselines   WORK/PROMPT ...     each --baselines conditioning trained to the same step as TV2TV (resumes)
  bench       OUT/bench           tv2tv bench against copy-last-frame and the baselines
  card        OUT/README.md       the model card and OUT/build.json (every stage's summary)

--minutes M shares M minutes of training among the VAE (25%), the tiny decoder (5%), the world
model (35%), the baselines (25%: they train to the world model's step, a time cap in case) and
the judge (10%); --vae-minutes, --decoder-minutes, --train-minutes and --judge-minutes set one
share by hand.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from model.atomic import atomic_file
from tv2tv_env.training.args import WORLD_MODEL_ARGS

from tv2tv_env.errors import UserError

STAGES = ["record", "vae", "tokenizer", "encode", "decoder", "train", "export", "judge", "baselines", "bench", "card"]
SHARES = {"vae": 0.25, "decoder": 0.05, "train": 0.35, "baselines": 0.25, "judge": 0.10}
BASELINE_NAMES = {"prompt": "T2V", "plan": "Think2V", "action_id": "action-id"}


def add_commands(sub):
    p = sub.add_parser("build-world", help="one command from a game (card, env id or recording) to a trained, "
                       "judged, benchmarked world", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=cmd_build_world)


def add_arguments(p):
    src = p.add_argument_group("what to build a world of (exactly one)")
    src.add_argument("--game", default=None, help="a built-in game card (doom, crafter)")
    src.add_argument("--env", default=None, metavar="ID", help="any Gymnasium env id (see `tv2tv record --help`)")
    src.add_argument("--data", default=None, metavar="DIR", help="a dataset recorded already (`tv2tv record`): no "
                     "record stage")
    p.add_argument("--env-kwargs", default=None, metavar="JSON", help="with --env: keyword arguments of gymnasium.make")
    p.add_argument("--card", default=None, metavar="FILE", help="with --env: a JSON game card (`tv2tv record --help`)")
    p.add_argument("--out", required=True, help="the world's checkpoint directory")
    p.add_argument("--work", default=None, help="recordings, runs and logs (default OUT/build)")
    p.add_argument("--minutes", type=float, default=60.0, help="training minutes in all, shared among the stages "
                   "(default 60; see above)")
    p.add_argument("--vae-minutes", type=float, default=None)
    p.add_argument("--decoder-minutes", type=float, default=None)
    p.add_argument("--train-minutes", type=float, default=None)
    p.add_argument("--judge-minutes", type=float, default=None)
    p.add_argument("--episodes", type=int, default=300, help="episodes to record (default 300)")
    p.add_argument("--max-chunks", type=int, default=300, help="chunks per episode at most (default 300)")
    p.add_argument("--seed", type=int, default=0, help="recording seed: episode i plays seed+i (default 0)")
    p.add_argument("--workers", type=int, default=2, help="recording processes (default 2)")
    p.add_argument("--config", default="small", help="model config: tiny, small, base or a JSON file (default small)")
    p.add_argument("--batch-size", type=int, default=WORLD_MODEL_ARGS.batch_size, help="training windows per step (default %(default)s)")
    p.add_argument("--vae", default=None, metavar="DIR", help="use this VAE instead of training one")
    p.add_argument("--vae-episodes", type=int, default=0,
                   help="record this many episodes (seeds from 100000) for the VAE alone; 0: train it on the "
                        "recording's train split (default)")
    p.add_argument("--vae-batch", type=int, default=64, help="frames per VAE step (default 64; 256+ on a GPU)")
    p.add_argument("--vae-init", default=None, metavar="DIR",
                   help="train the VAE starting from this one (e.g. the game's VAE before its recording changed) "
                        "instead of from scratch")
    p.add_argument("--vae-lr", type=float, default=None,
                   help="the VAE's peak learning rate (default: train-vae's 1e-3; 3e-4 suits --vae-init)")
    p.add_argument("--vocab-size", type=int, default=512, help="tokenizer vocabulary (default 512)")
    p.add_argument("--judge-episodes", type=int, default=0,
                   help="record this many episodes (seeds from 10000) for the judge alone; 0: train it on the "
                        "recording's train split (default)")
    p.add_argument("--judge-channels", type=int, default=32)
    p.add_argument("--baselines", nargs="*", default=["prompt"], choices=list(BASELINE_NAMES),
                   help="baselines trained to the same step: prompt (T2V, default), plan (Think2V), action_id")
    p.add_argument("--bench-episodes", type=int, default=8, help="held-out episodes the bench starts from (default 8)")
    p.add_argument("--long-horizon", type=int, default=64, help="chunks of the bench's long rollouts (default 64)")
    p.add_argument("--train-args", default="", metavar="ARGS",
                   help="more `tv2tv train` arguments for the world model and its baselines, as one string "
                        "(e.g. '--oversample-ends 4')")
    p.add_argument("--bench-args", default="", metavar="ARGS",
                   help="more `tv2tv bench` arguments, as one string (e.g. '--off-topic-steps 0')")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda")
    p.add_argument("--redo", nargs="*", default=[], choices=STAGES, help="run these stages again even if done")


def minutes_for(a) -> dict:
    own = {"vae": a.vae_minutes, "decoder": a.decoder_minutes, "train": a.train_minutes, "judge": a.judge_minutes}
    out = {k: (own.get(k) if own.get(k) is not None else round(a.minutes * share, 2)) for k, share in SHARES.items()}
    if a.vae:
        out["vae"] = 0.0
    return out


class Builder:
    def __init__(self, a):
        if sum(x is not None for x in (a.game, a.env, a.data)) != 1:
            raise UserError("build-world needs exactly one of --game NAME, --env ID and --data DIR")
        if (a.env_kwargs or a.card) and not a.env:
            raise UserError("--env-kwargs and --card go with --env ID")
        if a.vae and (a.vae_init or a.vae_lr):
            raise UserError("--vae DIR uses a VAE as it is; --vae-init and --vae-lr are for training one")
        if a.vae_init and Path(a.vae_init).resolve() == (Path(a.out) / "vae").resolve():
            raise UserError(f"--vae-init {a.vae_init} is the VAE this build writes (OUT/vae); copy it elsewhere "
                            "first, so that a stopped VAE stage starts again from the same weights")
        self.a = a
        self.out = Path(a.out)
        self.work = Path(a.work) if a.work else self.out / "build"
        self.data = Path(a.data) if a.data else self.work / "data"
        self.run = self.work / "run"
        self.minutes = minutes_for(a)
        for d in (self.out, self.work / "logs", self.work / "done"):
            d.mkdir(parents=True, exist_ok=True)

    # --- running one stage ------------------------------------------------------------
    def done(self, stage) -> dict | None:
        f = self.work / "done" / f"{stage}.json"
        return json.loads(f.read_text()) if f.is_file() and stage not in self.a.redo else None

    def mark(self, stage, summary: dict, seconds: float):
        f = self.work / "done" / f"{stage}.json"
        with atomic_file(f) as tmp:
            tmp.write_text(json.dumps({"seconds": round(seconds, 1), **summary}, indent=1, default=str))

    def tv2tv(self, stage, *args, ok_codes=(0,)) -> dict:
        """Run `tv2tv ARGS` in its own process, its output into WORK/logs/STAGE.log; return the
        last JSON object it printed ({} if none)."""
        cmd = [sys.executable, "-m", "tv2tv_cli", *map(str, args)]
        log = self.work / "logs" / f"{stage}.log"
        with open(log, "a") as f:
            f.write(f"\n$ tv2tv {' '.join(map(str, args))}\n")
            f.flush()
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=f, text=True)
            f.write(proc.stdout)
        if proc.returncode not in ok_codes:
            tail = "".join(log.read_text().splitlines(keepends=True)[-15:])
            raise UserError(f"stage {stage} failed (exit {proc.returncode}); its log is {log}:\n{tail}\n"
                            f"fix what it says and run the same build-world command again: finished stages are kept")
        for line in reversed(proc.stdout.splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except json.JSONDecodeError:
                    pass
        return {}

    def say(self, i, stage, text):
        print(f"[{i + 1}/{len(STAGES)}] {stage:<9} {text}", flush=True)

    def build(self) -> dict:
        t_all = time.perf_counter()
        for i, stage in enumerate(STAGES):
            prev = self.done(stage)
            if prev is not None:
                self.say(i, stage, f"done before ({prev['seconds'] / 60:.1f} min)")
                continue
            self.say(i, stage, "running ...")
            t0 = time.perf_counter()
            summary = getattr(self, "stage_" + stage)()
            self.mark(stage, summary, time.perf_counter() - t0)
            self.say(i, stage, f"done in {(time.perf_counter() - t0) / 60:.1f} min: {short(summary)}")
        report = {s: self.done(s) for s in STAGES}
        print(f"build-world: {self.out} is a world ({(time.perf_counter() - t_all) / 60:.1f} min this time); "
              f"play it with `tv2tv play --checkpoint {self.out}`; its model card is {self.out / 'README.md'}")
        return report

    # --- the stages -----------------------------------------------------------------
    def stage_record(self):
        a = self.a
        if a.data:
            return {"data": str(self.data), "recorded": False}
        shutil.rmtree(self.data, ignore_errors=True)  # a half-made recording is made again: seeds repeat
        s = self.tv2tv("record", "record", *self.source_args(), "--episodes", a.episodes, "--max-chunks", a.max_chunks,
                       "--seed", a.seed, "--workers", a.workers, "--out", self.data, "--quiet")
        return {"data": str(self.data), **s}

    def stage_vae(self):
        if self.a.vae:
            shutil.copytree(self.a.vae, self.out / "vae", dirs_exist_ok=True)
            return {"from": self.a.vae}
        data = self.data
        if self.a.vae_episodes:  # a recording of its own (seeds from 100000), as the shipped Doom VAE had
            data = self.own_recording("vae", self.a.vae_episodes, 100_000, 0.02)
        start = ["--init", self.a.vae_init] if self.a.vae_init else []
        start += ["--lr", self.a.vae_lr] if self.a.vae_lr else []
        # train-vae writes its checkpoints atomically; it has no resume, so a stopped one starts again
        return self.tv2tv("vae", "train-vae", "--data", data, "--out", self.out / "vae", "--max-minutes",
                          self.minutes["vae"], "--max-steps", 10_000_000, "--batch", self.a.vae_batch,
                          "--eval-every", 500, "--device", self.a.device, "--quiet", *start)

    def own_recording(self, stage, episodes, seed_offset, heldout) -> Path:
        """WORK/STAGE-data: more episodes of the same game for one stage alone (made again if unfinished)."""
        data = self.work / f"{stage}-data"
        if not (data / "recorded.ok").is_file():
            shutil.rmtree(data, ignore_errors=True)
            self.tv2tv(stage, "record", *self.source_args(), "--episodes", episodes, "--max-chunks",
                       self.a.max_chunks, "--seed", self.a.seed + seed_offset, "--workers", self.a.workers,
                       "--heldout", heldout, "--out", data, "--quiet")
            (data / "recorded.ok").write_text("")
        return data

    def source_args(self):
        a = self.a
        if a.data:
            from tv2tv_env.data.dataset import read_meta

            from tv2tv_env.games import get_card

            meta = read_meta(self.data)  # registers a recorded Gymnasium env's card
            if get_card(meta["game"]).env_id:  # not a built-in game: `record --game` cannot record more of it
                raise UserError("--vae-episodes and --judge-episodes record more of the game: give --game or --env "
                                "rather than --data for a recorded Gymnasium env")
            return ["--game", meta["game"]]
        src = ["--game", a.game] if a.game else ["--env", a.env]
        if a.env_kwargs:
            src += ["--env-kwargs", a.env_kwargs]
        if a.card:
            src += ["--card", a.card]
        return src

    def stage_tokenizer(self):
        return self.tv2tv("tokenizer", "tokenizer", "--data", self.data, "--out", self.out / "tokenizer",
                          "--vocab-size", self.a.vocab_size)

    def stage_encode(self):
        return self.tv2tv("encode", "encode", "--data", self.data, "--vae", self.out / "vae", "--device",
                          self.a.device, "--quiet")

    def stage_decoder(self):
        resume = ["--resume"] if (self.out / "tiny_decoder" / "train_state.pt").is_file() else []
        return self.tv2tv("decoder", "train-tiny-decoder", "--vae", self.out / "vae", "--data", self.data, "--out",
                          self.out / "tiny_decoder", "--max-minutes", self.minutes["decoder"], "--device",
                          self.a.device, "--quiet", *resume)

    def train_args(self, run, conditioning):
        resume = ["--resume"] if (run / "ckpt" / "train_state.pt").is_file() else []
        return ["train", "--data", self.data, "--out", run, "--config", self.a.config, "--batch-size",
                self.a.batch_size, "--vae", self.out / "vae", "--tokenizer", self.out / "tokenizer", "--device",
                self.a.device, "--conditioning", conditioning, "--eval-every", 500, "--no-samples", "--quiet", *resume,
                *shlex.split(self.a.train_args)]

    def stage_train(self):
        return self.tv2tv("train", *self.train_args(self.run, "text"), "--max-minutes", self.minutes["train"],
                          "--max-steps", 10_000_000)

    def stage_export(self):
        from tv2tv_env.training.export import export_weights

        info = export_weights(self.run, self.out / "model")
        shutil.copy(self.run / "contexts.npz", self.out / "contexts.npz")
        from tv2tv_env.games import CARD_FILE

        if (self.run / CARD_FILE).is_file():
            shutil.copy(self.run / CARD_FILE, self.out / CARD_FILE)
        return info

    def stage_judge(self):
        a, data = self.a, self.data
        if a.judge_episodes:  # seeds from 10000, as the shipped Doom judge had
            data = self.own_recording("judge", a.judge_episodes, 10_000, 0.05)
        out = self.out / "judge"
        resume = ["--resume"] if (out / "train_state.pt").is_file() else []
        return self.tv2tv("judge", "train-judge", "--data", data, "--eval-data", self.data, "--out", out,
                          "--minutes", self.minutes["judge"], "--max-episodes", 2000, "--channels", a.judge_channels,
                          "--quiet", *resume)

    def game(self):
        from tv2tv_env.data.dataset import read_meta

        return read_meta(self.data)["game"]

    def steps(self) -> int:
        return int(json.loads((self.out / "model" / "train_progress.json").read_text())["step"])

    def stage_baselines(self):
        steps, out = self.steps(), {}
        for cond in self.a.baselines:
            run = self.work / cond
            s = self.tv2tv("baselines", *self.train_args(run, cond), "--max-steps", steps, "--max-minutes",
                           max(self.minutes["baselines"] / max(1, len(self.a.baselines)), 1.0))
            from tv2tv_env.training.export import export_weights

            ship = self.work / "ship" / cond
            export_weights(run, ship / "model")
            for part in ("vae", "tokenizer"):
                link = ship / part
                if not link.exists():
                    link.symlink_to(os.path.relpath(self.out / part, ship))
            shutil.copy(self.out / "contexts.npz", ship / "contexts.npz")
            out[cond] = {"step": s.get("step"), "heldout_loss_flow": s.get("heldout_loss_flow")}
        return {"steps": steps, "runs": out}

    def stage_bench(self):
        base = [str(self.work / "ship" / c) for c in self.a.baselines]
        extra = self.a.bench_args.split() if self.a.bench_args else []
        self.tv2tv("bench", "bench", "--checkpoint", self.out, "--baselines", *base, "--data", self.data, "--judge",
                   self.out / "judge", "--episodes", self.a.bench_episodes, "--long-horizon", self.a.long_horizon,
                   "--device", self.a.device, "--out", self.out / "bench", "--quiet", *extra)
        report = json.loads((self.out / "bench" / "report.json").read_text())
        return {"report": str(self.out / "bench" / "report.md"), "models": list(report.get("models", {}))}

    def stage_card(self):
        stages = {s: self.done(s) for s in STAGES[:-1]}
        (self.out / "build.json").write_text(json.dumps(stages, indent=1, default=str) + "\n")
        (self.out / "README.md").write_text(model_card(self, stages))
        return {"card": str(self.out / "README.md")}


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "CPU"


def short(summary: dict) -> str:
    keys = ["episodes", "chunks", "heldout_psnr", "vocab_size", "frames", "step", "psnr_vs_full_decoder",
            "heldout_loss_flow", "accuracy", "steps", "report", "card", "out"]
    parts = [f"{k} {summary[k]:.3g}" if isinstance(summary.get(k), float) else f"{k} {summary[k]}"
             for k in keys if k in summary]
    return ", ".join(parts) or "ok"


def model_card(b: Builder, stages: dict) -> str:
    from model.precision import autocast_dtype, describe, resolve_device

    dev = resolve_device(b.a.device)
    hw = describe(dev, autocast_dtype(dev, "auto"))
    hw = (f"{hw.get('gpu', 'CUDA')}" if dev.type == "cuda" else f"{cpu_name()} ({hw['cpu_capability']}, "
          f"{os.cpu_count()} cores)") + f", {hw['dtype']}"
    rec, vae, tr, judge, dec = (stages.get(k) or {} for k in ("record", "vae", "train", "judge", "decoder"))
    bench = b.out / "bench" / "report.md"
    argv = shlex.join(b.a.argv) if getattr(b.a, "argv", None) else "build-world ..."
    lines = [
        f"# {b.out.name}: a TV2TV world of {b.game()}", "",
        "Made by one command, from the game's own engine to this checkpoint; every weight here was trained by "
        "this project's code on play recorded for it:", "", "```bash", f"tv2tv {argv}", "```", "",
        "| stage | what it made | minutes |", "|---|---|---|",
    ]
    for s in STAGES[:-1]:
        d = stages.get(s) or {}
        lines.append(f"| {s} | {short({k: v for k, v in d.items() if k != 'seconds'})} | {d.get('seconds', 0) / 60:.1f} |")
    lines += ["", f"- Data: {rec.get('episodes', '?')} episodes, {rec.get('chunks', '?')} chunks (`{b.data}`, 10% held out).",
              f"- VAE: held-out PSNR {vae.get('heldout_psnr', float('nan')):.2f} dB after {vae.get('step', '?')} steps."
              if "heldout_psnr" in vae else f"- VAE: {vae.get('from', '?')}.",
              f"- Tiny decoder (the envs decode with it): held-out PSNR {dec.get('psnr_vs_full_decoder', float('nan')):.2f} dB "
              f"against the VAE decoder, {dec.get('psnr_vs_real', float('nan')):.2f} dB against real frames (the VAE "
              f"decoder: {dec.get('full_decoder_psnr_vs_real', float('nan')):.2f} dB).",
              f"- World model: config `{b.a.config}`, batch {b.a.batch_size}, {tr.get('step', '?')} steps in "
              f"{b.minutes['train']} minutes; held-out flow loss {tr.get('heldout_loss_flow', float('nan')):.4f}.",
              f"- Judge (inverse dynamics, real frames only): held-out accuracy {judge.get('accuracy', float('nan')):.1%}.",
              f"- Hardware: {hw}.", "", "## Benchmark (`tv2tv bench`, in bench/)", ""]
    lines.append(bench.read_text() if bench.is_file() else "(not run)")
    return "\n".join(lines) + "\n"


def run(a) -> dict:
    return Builder(a).build()


def cmd_build_world(a):
    run(a)
    return 0
