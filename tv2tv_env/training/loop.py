"""The one training loop (nanoGPT style): every trainer in the project runs through `fit`.

A trainer is a `Task`: the network to train and the loss of one step. `fit` does the rest, the
same way for the world model, the VAE, the judge and distillation:

- AdamW (weight decay on matrices only), a linear warm-up then cosine decay that follows
  whichever budget is further along (`max_steps` or `max_minutes`), gradient clipping,
  gradient accumulation and DDP (torchrun), an optional EMA of the weights;
- every random number of a step comes from a generator seeded by (seed, step), which the
  task draws its batch and noise from, so a resumed run repeats the steps it would have taken;
- checkpoints written atomically (`CKPT/` replaced as a whole: the task's inference weights
  and `train_state.pt` with raw weights, EMA, optimizer, step, time spent), every
  `save_every_minutes` and at the end; SIGTERM/SIGINT finish the step, save and stop;
  `resume=True` continues from the checkpoint (or the `.old` one a kill between two renames
  left), refusing one of another configuration and naming a damaged one;
- one JSON line of metrics per `log_every` steps (losses, lr, grad norm, throughput).
"""
from __future__ import annotations

import contextlib
import copy
import functools
import json
import math
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from model import precision
from model.atomic import atomic_dir

from ..errors import UserError
from .args import TrainArgs

STATE_FILE = "train_state.pt"


def lr_at(progress: float, steps_since_warm: int, a: TrainArgs) -> float:
    """Cosine decay over `progress` (0..1) to `min_lr_ratio`, scaled by a linear warm-up over the
    first `warmup_steps`, at most a tenth of a short run (counted from where the warm-up starts:
    a run continued from exported weights warms a fresh optimizer up again)."""
    p = min(1.0, progress)
    lr = a.lr * (a.min_lr_ratio + (1 - a.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p)))
    warmup = max(1, min(a.warmup_steps, a.max_steps // 10))
    return lr * min(1.0, (steps_since_warm + 1) / warmup)


def step_generator(seed: int, step: int) -> torch.Generator:
    """Where every random number of a step comes from: a resumed run draws what it would have."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


class Task:
    """What a trainer trains. Set `model` (an nn.Module) and `name`; implement `loss`. The
    other methods have defaults that suit a task without them. `fit` sets `device` and
    `dtype` before the first step."""
    name = "train"
    model: torch.nn.Module
    device: torch.device
    dtype: torch.dtype | None
    weights: torch.nn.Module  # set by fit: what it evaluates and saves (the EMA of `model`, if any)

    def loss(self, net, step: int, gen: torch.Generator, rows: slice) -> tuple[torch.Tensor, dict]:
        """The loss of `rows` of step `step`'s global batch (all of it without accumulation or
        DDP), drawing its randomness from `gen` (the same generator for every micro-batch of a
        step: draw the whole step's randomness once and slice it). `net` is `model`, maybe wrapped
        by DDP. Returns (loss, parts): parts whose names begin with "loss" are averaged into the
        metrics, other numbers are counted and logged as rates ("chunks" -> "chunks_per_s")."""
        raise NotImplementedError

    def config(self) -> dict:
        """What must match for a checkpoint to be resumed."""
        return {}

    def save_weights(self, weights: torch.nn.Module, directory: Path):
        """Write the inference weights (the EMA if any) into the checkpoint directory."""
        weights.save_pretrained(directory)

    def evaluate(self, weights: torch.nn.Module, step: int) -> dict:
        """Held-out figures, every `eval_every` steps and at the end."""
        return {}

    def start(self, model, ema) -> tuple[int, float] | None:
        """Without a checkpoint to resume: optionally load starting weights into `model` (and
        `ema`), returning (step, elapsed seconds) to start counting from."""
        return None


def find_checkpoint(ckpt: Path) -> Path | None:
    """The last complete checkpoint: CKPT, or CKPT.old that a kill between two renames left."""
    ckpt = Path(ckpt)
    for path in [ckpt, ckpt.with_name(ckpt.name + ".old")]:
        if (path / STATE_FILE).is_file():
            return path
    return None


def load_state(ckpt: Path, device) -> dict:
    """The training state in checkpoint directory `ckpt`; a clear UserError when it is damaged,
    naming the file and what to do."""
    path = Path(ckpt) / STATE_FILE
    try:
        state = torch.load(path, map_location=device, weights_only=False)
        if not isinstance(state, dict) or not {"model", "opt", "step"} <= set(state):
            raise ValueError("not a training state (no model, opt or step)")
        return state
    except Exception as e:  # noqa: BLE001  (torch raises many kinds for a truncated or foreign file)
        raise UserError(f"{path} is damaged and cannot be resumed ({type(e).__name__}: {e}); delete {path.parent} "
                        f"to start afresh, or resume from a copy of the run") from None


def _param_groups(model, weight_decay: float):
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 and "emb" not in n else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _check_config(state: dict, want: dict, ckpt: Path):
    was = {**want, **state.get("config", {})}  # fields added since that run was saved: today's defaults
    if was != want:
        diff = ", ".join(f"{k} {was.get(k)} -> {v}" for k, v in want.items() if was.get(k) != v)
        raise UserError(f"checkpoint {ckpt} was trained with another configuration ({diff}); use a new output "
                        f"directory, or the same configuration and options")


@dataclass
class _Progress:
    """Where a run stands: what a checkpoint saves besides the weights and the optimizer."""
    step: int = 0
    elapsed: float = 0.0  # seconds of training so far, across resumes
    warm_from: int = 0  # the step the learning-rate warm-up starts at
    first: list = field(default_factory=list)  # the losses of the first 10 steps
    last: list = field(default_factory=list)  # and of the last 10

    def add_loss(self, loss: float):
        if len(self.first) < 10:
            self.first.append(loss)
        self.last = (self.last + [loss])[-10:]


def _restore(task: Task, model, ema, opt, ckpt: Path, resume: bool, dev, say: bool = True) -> _Progress:
    """Load the checkpoint to resume, or the task's starting weights; return where the run stands."""
    if resume and ckpt is None:
        raise ValueError("resume needs a checkpoint directory")
    found = find_checkpoint(ckpt) if resume else None
    if resume and found is None and say:
        print(f"{task.name}: no checkpoint in {ckpt}; starting from scratch")
    if found is None:
        started = task.start(model, ema)
        return _Progress() if started is None else _Progress(step=started[0], elapsed=started[1], warm_from=started[0])
    state = load_state(found, dev)
    _check_config(state, task.config(), found)
    model.load_state_dict(state["model"])
    if ema is not None:
        ema.load_state_dict(state.get("ema") or state["model"])
    opt.load_state_dict(state["opt"])
    return _Progress(state["step"], state["elapsed"], state.get("warm_from", 0), state.get("loss_first", []),
                     state.get("loss_last", []))


@contextlib.contextmanager
def _stop_on_signals():
    """SIGTERM/SIGINT set a flag (the loop finishes its step, saves and stops) instead of killing."""
    stop, handlers = {"signal": None}, {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            handlers[sig] = signal.signal(sig, lambda s, f: stop.update(signal=s))
        except ValueError:  # not the main thread: no signal handling
            pass
    try:
        yield stop
    finally:
        for sig, h in handlers.items():
            signal.signal(sig, h)


def _optimizer_step(task: Task, net, model, ema, opt, args: TrainArgs, step: int, rank: int, world: int):
    """One step: the global batch in accumulated micro-batches (each process its share), clipping,
    AdamW and the EMA. Returns the summed parts of the micro-batches and the gradient norm."""
    gen = step_generator(args.seed, step)
    micro = args.batch_size // (world * args.grad_accum)
    opt.zero_grad(set_to_none=True)
    sums = {}
    for m in range(args.grad_accum):
        lo = (rank * args.grad_accum + m) * micro
        last = m == args.grad_accum - 1
        no_sync = net.no_sync() if world > 1 and not last else contextlib.nullcontext()  # DDP syncs once a step
        with no_sync, precision.autocast(task.device, task.dtype):
            loss, parts = task.loss(net, step, gen, slice(lo, lo + micro))
            (loss / args.grad_accum).backward()
        for k, v in {"loss": loss.item(), **parts}.items():
            sums[k] = sums.get(k, 0) + v
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip if args.clip > 0 else math.inf)
    opt.step()
    if ema is not None:
        with torch.no_grad():
            d = min(args.ema_decay, (1 + step) / (10 + step))  # warm EMA: short runs still get averaged weights
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - d)
    return sums, float(grad_norm)


def _device(name: str, ddp: bool) -> torch.device:
    """The device to train on; under torchrun each process takes its own GPU."""
    dev = precision.resolve_device(name)
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if dev.type == "cuda" and ddp else dev


def _save_checkpoint(ckpt: Path, task: Task, weights, model, ema, opt, run: _Progress, args: TrainArgs):
    """CKPT/ replaced as a whole: the task's inference weights and the state to resume from."""
    with atomic_dir(ckpt) as tmp:
        task.save_weights(weights, tmp)
        torch.save({"model": model.state_dict(), "ema": ema.state_dict() if ema is not None else None,
                    "opt": opt.state_dict(), "step": run.step, "elapsed": run.elapsed, "warm_from": run.warm_from,
                    "config": task.config(), "args": asdict(args), "loss_first": run.first, "loss_last": run.last},
                   tmp / STATE_FILE)


def fit(task: Task, args: TrainArgs, ckpt, metrics, resume: bool = False, progress: bool = True,
        on_step=None) -> dict:
    """Train `task` under `args`, checkpointing into directory `ckpt`, logging to `metrics` (.jsonl;
    None for either: none). Returns the last logged metrics, the held-out figures and {step, elapsed_s,
    stopped_by_signal, loss_first, loss_last, device, dtype}; then `task.weights` are the trained ones."""
    ckpt, metrics = (None if p is None else Path(p) for p in (ckpt, metrics))
    ddp = dist.is_available() and dist.is_initialized()
    rank, world = (dist.get_rank(), dist.get_world_size()) if ddp else (0, 1)
    dev = _device(args.device, ddp)
    if args.batch_size % (world * args.grad_accum):
        raise UserError(f"batch size {args.batch_size} must divide by processes x grad_accum = {world * args.grad_accum}")
    task.device, task.dtype = dev, precision.autocast_dtype(dev, args.precision)
    model = task.model.to(dev)
    ema = _frozen_copy(model) if args.ema_decay > 0 else None
    task.weights = weights = ema if ema is not None else model  # what is saved for inference and evaluated
    opt = torch.optim.AdamW(_param_groups(model, args.weight_decay), lr=args.lr, betas=(0.9, args.beta2))
    run = _restore(task, model, ema, opt, ckpt, resume, dev, say=rank == 0)  # every process loads the same
    net = torch.nn.parallel.DistributedDataParallel(model) if ddp else model
    log = _MetricsLog(metrics if rank == 0 else None)
    info, on_rank0_with_ckpt = precision.describe(dev, task.dtype), rank == 0 and ckpt is not None
    if run.step == 0:
        log.write({"event": "start", **info, "params": sum(p.numel() for p in model.parameters())})

    save = functools.partial(_save_checkpoint, ckpt, task, weights, model, ema, opt, run, args)

    def evaluate():
        figures = task.evaluate(weights, run.step)
        if figures:
            log.write({"step": run.step, **figures})
        return {"step": run.step, "figures": figures}

    t_start, last_save = time.perf_counter() - run.elapsed, time.perf_counter()
    bar = tqdm(total=args.max_steps, initial=run.step, desc=task.name, disable=not progress or rank != 0)
    window, counts, result, evaluated = time.perf_counter(), {}, {}, {"step": None, "figures": {}}
    model.train()
    with _stop_on_signals() as stop:
        while run.step < args.max_steps and stop["signal"] is None:
            run.elapsed = time.perf_counter() - t_start
            done = max(run.step / args.max_steps, run.elapsed / (60 * args.max_minutes) if args.max_minutes else 0.0)
            if done >= 1.0:
                break
            lr = lr_at(done, run.step - run.warm_from, args)
            for g in opt.param_groups:
                g["lr"] = lr
            sums, grad_norm = _optimizer_step(task, net, model, ema, opt, args, run.step, rank, world)
            run.step, run.elapsed = run.step + 1, time.perf_counter() - t_start
            run.add_loss(sums["loss"] / args.grad_accum)
            bar.update(1)
            for k, v in sums.items():
                if not k.startswith("loss"):  # counts (tokens, chunks): logged as rates
                    counts[k] = counts.get(k, 0) + v * world
            if run.step % args.log_every == 0:
                dt = time.perf_counter() - window
                result = {"step": run.step, **{k: v / args.grad_accum for k, v in sums.items() if k.startswith("loss")},
                          "lr": lr, "grad_norm": grad_norm, **{f"{k}_per_s": v / dt for k, v in counts.items()},
                          "elapsed_s": run.elapsed}
                log.write(result)
                bar.set_postfix(loss=f"{result['loss']:.4f}")
                window, counts = time.perf_counter(), {}
            if on_step:
                on_step(run.step)
            if rank == 0 and args.eval_every and run.step % args.eval_every == 0:
                evaluated = evaluate()
            if on_rank0_with_ckpt and time.perf_counter() - last_save > 60 * args.save_every_minutes:
                save()
                last_save = time.perf_counter()
    bar.close()
    run.elapsed = time.perf_counter() - t_start
    if on_rank0_with_ckpt:
        save()
    if rank == 0:
        if evaluated["step"] != run.step:  # the figures of the last step, unless it was just evaluated
            evaluated = evaluate()
        result.update(evaluated["figures"])
        log.write({"event": "stop", "step": run.step, "elapsed_s": run.elapsed,
                   "signal": stop["signal"] and int(stop["signal"])})
    log.close()
    result.update(step=run.step, elapsed_s=run.elapsed, stopped_by_signal=stop["signal"] is not None,
                  loss_first=_mean(run.first), loss_last=_mean(run.last), **info)
    return result


class _MetricsLog:
    """One JSON object a line, flushed each time; a process other than rank 0 writes nothing."""

    def __init__(self, path: Path | None):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "a") if path is not None else None

    def write(self, row: dict):
        if self.file:
            self.file.write(json.dumps(row) + "\n")
            self.file.flush()

    def close(self):
        if self.file:
            self.file.close()


def _mean(xs: list) -> float:
    return sum(xs) / len(xs) if xs else math.nan


def _frozen_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy with the same weights that no gradient reaches (the EMA)."""
    ema = copy.deepcopy(model)
    ema.requires_grad_(False)
    return ema
