"""Sampler distillation: a student that draws a chunk in a few Euler steps, with no guidance,
what the teacher draws in many steps with guidance (issue: fewer sampling steps).

One distillation example is a real context and the next chunk's command. The teacher (the
trained model, frozen) builds the KV cache of the context and reads the command, exactly as
`StreamingSampler.step` does, then draws the chunk from noise z with its own steps and
guidance. The student, a copy of the teacher, runs only the chunk's noisy tokens against the
teacher's cache and <bof> states, from the same z, in `student_steps` Euler steps with
guidance 1, and learns to land where the teacher landed: mean squared error in latent space,
with gradients through all its steps (knowledge distillation of the sampler, Luhman &
Luhman 2021; guidance folded into the student as in Meng et al. 2023).

At sampling the teacher still makes the cache and reads the text (so text, thoughts, reward
and episode end are the teacher's, unchanged); the student only draws:
`StreamingSampler(teacher, ..., student=student)`. So only the student's video tower is
trained here, and it is shipped as a full model directory next to the teacher's.

Works on token ids and latents; the loop and the data are in `tv2tv_env/training/distill.py`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .euler import guided_euler
from .sampler import StreamingSampler


@torch.no_grad()
def teacher_chunk(sampler: StreamingSampler, context_latents: torch.Tensor, context_texts: list, texts: list,
                  commands: list | None, noise: torch.Tensor, steps: int | None = None):
    """The chunk the teacher draws as `StreamingSampler.step` does (its guidance; `steps` Euler
    steps, default its own) from `noise` (B, n, P) after the real context (latents
    (B, Kc, F, C, h, w), texts[b][k]) under the command texts[b] (token ids) / commands[b]
    (its vector, or None). Returns the chunk (B, n, P) and the conditional rows' <bof> states;
    the sampler is left holding their cache, with the command read, for a student to draw against."""
    sampler.reset(context_latents, context_texts)
    texts = [list(t) for t in texts]
    return sampler.draw_chunk(texts, sampler.complete_command_vectors(texts, commands), noise, steps)


def student_chunk(sampler: StreamingSampler, student, states: list, noise: torch.Tensor, steps: int) -> torch.Tensor:
    """The student's chunk from the same noise, against the teacher's cache and states, in
    `steps` Euler steps without guidance; differentiable in the student's weights."""
    return guided_euler(sampler.velocity_fn(states, student), noise, sampler.scheduler, steps, 1.0)


def distill_loss(sampler: StreamingSampler, student, context_latents, context_texts, texts, commands, noise,
                 student_steps: int) -> torch.Tensor:
    """Mean squared error between the student's few-step chunk and the teacher's (float32)."""
    target, states = teacher_chunk(sampler, context_latents, context_texts, texts, commands, noise)
    x = student_chunk(sampler, student, states, noise, student_steps)
    return F.mse_loss(x.float(), target.float())
