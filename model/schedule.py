"""The learning-rate schedule of the VAE and the judge: linear warmup, then cosine decay.

(The world model's `model.train.lr_at` warms up over steps, not progress, because its budget
may be wall-clock minutes.)"""
from __future__ import annotations

import math


def warmup_cosine(progress: float, base: float, warmup: float, floor: float = 0.05) -> float:
    """Linear warmup over the first `warmup` of training, then cosine to `floor` x base;
    `progress` in [0, 1] (clamped above)."""
    if progress < warmup:
        return base * progress / warmup
    p = min(1.0, (progress - warmup) / (1 - warmup))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)))
