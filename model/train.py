"""The training loop of the world model, whole on one page (nanoGPT style).

It sees only tensors: `batch_fn(step)` returns the global batch of a step (a dict with
`latents` (B, K, F, C, h, w), `texts` (B lists of K token-id lists), `reward` and
`terminated` (B, K)). Everything random in a step (text dropout, flow times, noise) is
drawn from a generator seeded by (seed, step), and the data of a step is a function of
the step too, so `--resume` continues exactly where a run stopped, and a run on N
processes (torchrun, DDP) sees the same global batch as a run on one.

Checkpoints (`RUN/ckpt/`: `model/` = EMA weights in the Hugging Face layout, and
`train_state.pt` = raw weights, optimizer, EMA, step) are written to a temporary
directory and renamed. SIGTERM/SIGINT finish the current step, save and exit.

A run that must outlive its machine without its optimizer state (a repo keeps only the
exported fp16 weights, `scripts/export_weights.py`) continues with `init_from=`: those
weights become the raw and EMA weights, the step comes from `train_progress.json` beside
them, and a fresh AdamW warms up again so its empty moments do not jolt the weights.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from tqdm import tqdm

from . import precision
from .atomic import atomic_dir
from .config import TRAINING_ONLY_FIELDS, TrainArgs  # noqa: F401  (TrainArgs importable from here too)
from .flow import draw_randomness, training_loss
from .mot import TV2TVModel


def lr_at(progress: float, step: int, a: TrainArgs) -> float:
    """Cosine decay over `progress` (0..1), scaled by a linear warm-up over the first
    `warmup_steps` (`step` counts from where the warm-up starts)."""
    p = min(1.0, progress)
    lr = a.lr * (a.min_lr_ratio + (1 - a.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p)))
    return lr * min(1.0, (step + 1) / a.warmup_steps)


def step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def _rows(batch: dict, rows: slice) -> dict:
    return {k: (v[rows] if not isinstance(v, torch.Tensor) or v.dim() else v) for k, v in batch.items()}


def save_checkpoint(run: Path, model, ema, opt, step: int, elapsed: float, args: TrainArgs, extra: dict):
    with atomic_dir(run / "ckpt") as tmp:
        ema.save_pretrained(tmp / "model")  # inference weights: config.json + model.safetensors
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
                    "elapsed": elapsed, "args": asdict(args), **extra}, tmp / "train_state.pt")


PRIOR_FIELDS = ("command_dim", "text_hide", "paraphrase")  # the language prior's config (model/command_encoder.py)


def load_exported_weights(src: Path, cfg, model, ema) -> tuple[int, float]:
    """Start from exported weights (`scripts/export_weights.py`): returns (step, elapsed_s).
    Weights of a model without a language prior may start a run that adds one (same config
    otherwise): the prior's projection starts at zero, so the model starts as it was. Fields
    that only shape the training objective (`TRAINING_ONLY_FIELDS`) may differ."""
    if not (src / "model.safetensors").is_file():
        raise ValueError(f"{src} holds no exported weights (model.safetensors); make them with "
                         f"`python scripts/export_weights.py RUN {src}`")
    loaded = TV2TVModel.from_pretrained(src)
    was = {k: v for k, v in asdict(loaded.config).items() if k not in TRAINING_ONLY_FIELDS}
    want = {k: v for k, v in asdict(cfg).items() if k not in TRAINING_ONLY_FIELDS}
    adds_prior = not was["command_dim"] and want["command_dim"] and \
        {k: v for k, v in was.items() if k not in PRIOR_FIELDS} == {k: v for k, v in want.items() if k not in PRIOR_FIELDS}
    if was != want and not adds_prior:
        diff = ", ".join(f"{k} {was[k]} -> {v}" for k, v in want.items() if was.get(k) != v)
        raise ValueError(f"the weights in {src} were trained with another config ({diff}); use the same --config "
                         f"and data")
    weights = {k: v.float() for k, v in loaded.state_dict().items()}
    if adds_prior:  # a model without a language prior gains one: its projection starts at zero
        weights["command_proj.weight"] = torch.zeros_like(model.command_proj.weight)
    model.load_state_dict(weights)
    ema.load_state_dict(weights)
    progress = src / "train_progress.json"
    info = json.loads(progress.read_text()) if progress.is_file() else {}
    return int(info.get("step", 0)), float(info.get("elapsed_s", 0.0))


def find_checkpoint(run: Path) -> Path | None:
    """The last complete checkpoint (a run killed between two renames left it as ckpt.old)."""
    for name in ["ckpt", "ckpt.old"]:
        if (run / name / "train_state.pt").exists():
            return run / name
    return None


def train(cfg, batch_fn: Callable[[int], dict], run, special: dict, args: TrainArgs = TrainArgs(),
          resume: bool = False, eval_batches: list | None = None, sample_fn: Callable | None = None,
          on_step: Callable | None = None, progress: bool = True, init_from=None) -> dict:
    run = Path(run)
    ddp = dist.is_available() and dist.is_initialized()
    rank, world = (dist.get_rank(), dist.get_world_size()) if ddp else (0, 1)
    dev = precision.resolve_device(args.device)
    if dev.type == "cuda" and ddp:
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    dtype = precision.autocast_dtype(dev, args.precision)
    if args.batch_size % (world * args.grad_accum):
        raise ValueError(f"batch size {args.batch_size} must divide by processes x grad_accum = {world * args.grad_accum}")
    torch.manual_seed(args.seed)
    model = TV2TVModel(cfg).to(dev)
    ema = TV2TVModel(cfg).to(dev)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (decay if p.dim() >= 2 and "emb" not in n else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    step, elapsed, warm_from = 0, 0.0, 0  # warm_from: the step the LR warm-up starts at
    ckpt = find_checkpoint(run) if resume else None
    if resume and ckpt is None and rank == 0:
        print(f"train: no checkpoint in {run}; starting from scratch")
    if ckpt is not None:
        state = torch.load(ckpt / "train_state.pt", map_location=dev, weights_only=False)
        was = asdict(type(cfg).from_dict(state.get("config", {})))  # fields added since then: their defaults
        if was != asdict(cfg):
            diff = ", ".join(f"{k} {was[k]} -> {v}" for k, v in asdict(cfg).items() if was[k] != v)
            raise ValueError(f"checkpoint {ckpt} was trained with another config ({diff}); use a new --out or the "
                             f"same --config and options")
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        step, elapsed = state["step"], state["elapsed"]
        warm_from = state.get("warm_from", 0)
    elif init_from is not None:
        step, elapsed = load_exported_weights(Path(init_from), cfg, model, ema)
        warm_from = step
    extra = {"config": asdict(cfg), "warm_from": warm_from}  # saved beside the weights and optimizer
    net = torch.nn.parallel.DistributedDataParallel(model) if ddp else model
    if rank == 0:
        run.mkdir(parents=True, exist_ok=True)
        (run / "config.json").write_text(cfg.to_json())
        (run / "train_args.json").write_text(json.dumps(asdict(args), indent=2))
    log = open(run / "metrics.jsonl", "a") if rank == 0 else None
    info = precision.describe(dev, dtype)
    if log and step == 0:
        log.write(json.dumps({"event": "start", **info, "params": sum(p.numel() for p in model.parameters())}) + "\n")

    stop = {"signal": None}
    handlers = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            handlers[sig] = signal.signal(sig, lambda s, f: stop.update(signal=s))
        except ValueError:  # not the main thread: no signal handling
            pass

    t_start, last_save = time.perf_counter() - elapsed, time.perf_counter()
    bar = tqdm(total=args.max_steps, initial=step, desc="train", disable=not progress or rank != 0)
    micro = args.batch_size // (world * args.grad_accum)
    window = {"tokens": 0, "chunks": 0, "t": time.perf_counter()}
    result = {}
    try:
        while step < args.max_steps and stop["signal"] is None:
            elapsed = time.perf_counter() - t_start
            prog = max(step / args.max_steps, elapsed / (60 * args.max_minutes) if args.max_minutes else 0.0)
            if prog >= 1.0:
                break
            lr = lr_at(prog, step - warm_from, args)
            for g in opt.param_groups:
                g["lr"] = lr
            batch = batch_fn(step)
            B, K = batch["latents"].shape[:2]
            rand = draw_randomness(cfg, B, K, step_generator(args.seed, step))
            opt.zero_grad(set_to_none=True)
            sums = {}
            for m in range(args.grad_accum):
                lo = (rank * args.grad_accum + m) * micro
                rows = slice(lo, lo + micro)
                mb, mr = _rows(batch, rows), _rows(rand, rows)
                sync = m == args.grad_accum - 1 or not ddp
                ctx = net.no_sync() if (ddp and not sync) else contextlib.nullcontext()
                with ctx, precision.autocast(dev, dtype):
                    loss, parts = training_loss(net, mb["latents"].to(dev), mb["texts"], mb["reward"].to(dev),
                                                mb["terminated"].to(dev), special, rand=mr, prompts=mb.get("prompts"),
                                                prompt_loss=cfg.conditioning != "prompt", commands=mb.get("commands"))
                    (loss / args.grad_accum).backward()
                for k, v in parts.items():
                    sums[k] = sums.get(k, 0) + v
                sums["loss"] = sums.get("loss", 0) + loss.item()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            with torch.no_grad():
                d = min(args.ema_decay, (1 + step) / (10 + step))  # warm EMA: short runs still get averaged weights
                for pe, pm in zip(ema.parameters(), model.parameters()):
                    pe.lerp_(pm, 1 - d)
            step += 1
            bar.update(1)
            window["tokens"] += sums["tokens"] * world
            window["chunks"] += sums["predicted_chunks"] * world
            if log and step % args.log_every == 0:
                dt = time.perf_counter() - window["t"]
                rec = {"step": step, **{k: v / args.grad_accum for k, v in sums.items() if k.startswith("loss")},
                       "lr": lr, "grad_norm": float(grad_norm), "tokens_per_s": window["tokens"] / dt,
                       "chunks_per_s": window["chunks"] / dt, "elapsed_s": time.perf_counter() - t_start}
                log.write(json.dumps(rec) + "\n")
                log.flush()
                bar.set_postfix(loss=f"{rec['loss']:.3f}", flow=f"{rec['loss_flow']:.3f}", chunks_s=f"{rec['chunks_per_s']:.0f}")
                window = {"tokens": 0, "chunks": 0, "t": time.perf_counter()}
                result = rec
            if on_step:
                on_step(step)
            if rank == 0 and eval_batches and step % args.eval_every == 0:
                ev = evaluate(ema, eval_batches, special, dev, dtype, args.seed)
                log.write(json.dumps({"step": step, **ev}) + "\n")
                log.flush()
                if sample_fn:
                    sample_fn(ema, step)
            if rank == 0 and time.perf_counter() - last_save > 60 * args.save_every_minutes:
                save_checkpoint(run, model, ema, opt, step, time.perf_counter() - t_start, args, extra)
                last_save = time.perf_counter()
    finally:
        bar.close()
        for sig, h in handlers.items():
            signal.signal(sig, h)
    elapsed = time.perf_counter() - t_start
    if rank == 0:
        save_checkpoint(run, model, ema, opt, step, elapsed, args, extra)
        if eval_batches:
            ev = evaluate(ema, eval_batches, special, dev, dtype, args.seed)
            log.write(json.dumps({"step": step, **ev}) + "\n")
            result.update(ev)
        log.write(json.dumps({"event": "stop", "step": step, "elapsed_s": elapsed,
                              "signal": stop["signal"] and int(stop["signal"])}) + "\n")
        log.close()
    result.update(step=step, elapsed_s=elapsed, stopped_by_signal=stop["signal"] is not None, **info)
    return result


@torch.no_grad()
def evaluate(model, batches: list, special: dict, dev, dtype, seed: int) -> dict:
    """Held-out losses with fixed randomness, so that numbers compare across steps and runs."""
    was = model.training
    model.eval()
    sums, n = {}, 0
    for i, b in enumerate(batches):
        B, K = b["latents"].shape[:2]
        rand = draw_randomness(model.config, B, K, step_generator(seed + 7, i))
        rand["drop"] = torch.zeros_like(rand["drop"])  # judge the conditional model
        rand["flip"] = torch.zeros_like(rand["flip"])  # on clean contexts, comparable across runs
        with precision.autocast(dev, dtype):
            loss, parts = training_loss(model, b["latents"].to(dev), b["texts"], b["reward"].to(dev),
                                        b["terminated"].to(dev), special, rand=rand, prompts=b.get("prompts"),
                                        prompt_loss=model.config.conditioning != "prompt",
                                        commands=b.get("commands"))
        parts["loss"] = loss.item()
        for k, v in parts.items():
            if k.startswith("loss"):
                sums[k] = sums.get(k, 0) + v
        n += 1
    model.train(was)
    return {f"heldout_{k}": v / n for k, v in sums.items()}
