"""Every trainer's settings, declared once, and the command-line flags made from them.

Light on purpose (no torch): `tv2tv --help` builds every parser without loading the stack.
Each trainer's defaults sit side by side below, so their differences read at a glance.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass
class TrainArgs:
    """The settings of a training run, declared once: each trainer's command-line flags are made
    from these fields (`add_train_flags`), each trainer has its own defaults (at the end of this
    file), and a run's `train_state.pt` records them."""
    max_steps: int = 1000
    max_minutes: float | None = None  # wall-clock budget; the schedule follows whichever ends first
    batch_size: int = 16  # the global batch (all processes, all accumulation steps)
    grad_accum: int = 1
    lr: float = 1e-3  # peak learning rate
    min_lr_ratio: float = 0.1  # where the cosine ends, as a share of lr
    warmup_steps: int = 100  # at most a tenth of max_steps
    weight_decay: float = 0.05  # on matrices only (not on norms, biases or embeddings)
    beta2: float = 0.95
    clip: float = 1.0  # gradient-norm clipping; 0: none
    ema_decay: float = 0.999  # 0: no EMA (the checkpoint's weights are the raw ones)
    log_every: int = 10
    eval_every: int = 200
    save_every_minutes: float = 5.0
    seed: int = 0
    device: str = "auto"  # auto (CUDA if present), cpu, cuda
    precision: str = "auto"  # auto (bf16 where the device runs it natively), bf16, fp32


FLAG_HELP = {
    "max_steps": "stop after this many optimizer steps",
    "max_minutes": "wall-clock budget in minutes (the learning-rate schedule follows it)",
    "batch_size": "global batch per optimizer step",
    "grad_accum": "split each batch into this many accumulated micro-batches",
    "lr": "peak learning rate (linear warm-up, then cosine decay)",
    "warmup_steps": "steps of linear learning-rate warm-up",
    "eval_every": "evaluate on held-out data every this many steps",
    "save_every_minutes": "write a checkpoint this often",
    "seed": "seed of every random draw (a step's batch and noise come from (seed, step))",
    "device": "auto (CUDA if present), cpu or cuda",
    "precision": "auto (bf16 only where the device runs it natively), bf16 or fp32",
}
FLAG_ALIASES = {"batch_size": ["--batch"], "max_minutes": ["--minutes"]}  # names older commands used


def add_train_flags(parser, defaults: TrainArgs, names=("max_steps", "max_minutes", "batch_size", "lr", "eval_every",
                                                        "seed", "device", "precision")):
    """Add `--max-steps`, `--lr`, ... for the TrainArgs fields `names`, with `defaults`' values."""
    types = {f.name: f.type for f in fields(TrainArgs)}
    for name in names:
        value = getattr(defaults, name)
        kind = {"int": int, "float": float, "str": str}.get(str(types[name]).split(" ")[0], float)
        flags = ["--" + name.replace("_", "-"), *FLAG_ALIASES.get(name, [])]
        choices = ["auto", "bf16", "fp32"] if name == "precision" else None
        parser.add_argument(*flags, dest=name, type=kind, default=value, choices=choices,
                            help=f"{FLAG_HELP.get(name, name)} (default {value})")


def train_args_from(namespace, defaults: TrainArgs) -> TrainArgs:
    """`defaults` with the values of the flags `add_train_flags` added to `namespace`."""
    return replace(defaults, **{f.name: getattr(namespace, f.name) for f in fields(TrainArgs)
                                if hasattr(namespace, f.name)})


def split_options(options: dict, *defaults) -> list:
    """Keyword options -> a copy of each dataclass instance in `defaults` with its own fields
    changed; a keyword none of them has is a TypeError naming the known ones."""
    names = [{f.name for f in fields(d)} for d in defaults]
    unknown = sorted(set(options) - set().union(*names))
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(set().union(*names)))}")
    return [replace(d, **{k: v for k, v in options.items() if k in n}) for d, n in zip(defaults, names)]


# Each trainer's defaults (their commands' flags show them):
# the world model: EMA weights, AdamW betas (0.9, 0.95), a warm-up of 200 steps
WORLD_MODEL_ARGS = TrainArgs(warmup_steps=200)
# the frame VAE: no weight decay, no EMA
VAE_ARGS = TrainArgs(max_steps=20_000, batch_size=64, lr=1e-3, min_lr_ratio=0.05, warmup_steps=200, weight_decay=0.0,
                     beta2=0.99, clip=1.0, ema_decay=0.0, log_every=50, eval_every=500)
# the judge: no EMA, no clipping; a time budget of 10 minutes on the CPU
JUDGE_ARGS = TrainArgs(max_steps=10**9, max_minutes=10.0, batch_size=64, lr=2e-3, min_lr_ratio=0.05, warmup_steps=30,
                       weight_decay=0.01, beta2=0.999, clip=0.0, ema_decay=0.0, log_every=20, eval_every=0,
                       save_every_minutes=2.0, device="cpu")
# distillation: a small learning rate from the teacher's weights
DISTILL_ARGS = TrainArgs(max_steps=2000, batch_size=16, lr=1e-4, min_lr_ratio=0.1, warmup_steps=50, weight_decay=0.0,
                         beta2=0.999, clip=1.0, ema_decay=0.0, log_every=10, eval_every=200, save_every_minutes=2.0)
# the tiny decoder: distilled from the VAE decoder, EMA weights, no weight decay
TINY_DECODER_ARGS = TrainArgs(max_steps=100_000, max_minutes=20.0, batch_size=64, lr=2e-3, min_lr_ratio=0.05,
                              warmup_steps=200, weight_decay=0.0, beta2=0.99, clip=1.0, ema_decay=0.999, log_every=50,
                              eval_every=500, save_every_minutes=2.0)
# the action reader (inverse dynamics on latents): a few minutes on the CPU, EMA weights
ACTION_READER_ARGS = TrainArgs(max_steps=100_000, max_minutes=6.0, batch_size=128, lr=2e-3, min_lr_ratio=0.05,
                               warmup_steps=100, weight_decay=0.01, beta2=0.99, clip=1.0, ema_decay=0.995,
                               log_every=50, eval_every=500, save_every_minutes=2.0)
