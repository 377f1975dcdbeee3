"""The flow ODE's Euler steps, with classifier-free guidance: how every chunk is drawn.

The streaming sampler (model/sampler.py), the distilled student (model/distill.py) and the own
drafts of training (model/flow.py, `own_drafts`) all draw through `guided_euler`, with
`diffusers.FlowMatchEulerDiscreteScheduler` giving the steps, so that a chunk drawn in training
is drawn as a rollout draws it.
"""
from __future__ import annotations

import torch


def flow_scheduler():
    """The Euler steps' schedule every draw uses (diffusers' `FlowMatchEulerDiscreteScheduler`):
    sigmas evenly from 1 to 0, no shift. Imported here, not at the top, so that the training
    loss (model/flow.py) does not load diffusers until it draws."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)


def guided_euler(velocity, x: torch.Tensor, scheduler, steps: int, guidance: float) -> torch.Tensor:
    """Flow-matching Euler steps from noise `x` (sigma 1) to a chunk (sigma 0), with classifier-
    free guidance. `velocity(xin, t)` predicts noise - x0; when guidance is not 1 it gets `x`
    twice, stacked (the conditional rows first, then the unconditional ones), as one batch."""
    guided, B = guidance != 1.0, len(x)
    scheduler.set_timesteps(steps)
    for t in scheduler.timesteps:
        v = velocity(torch.cat([x, x]) if guided else x, t)
        if guided:
            v = v[B:] + guidance * (v[:B] - v[B:])
        x = scheduler.step(v, t, x).prev_sample
    return x
