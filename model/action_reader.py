"""An action reader: which action turned one chunk of VAE latents into the next (inverse dynamics).

Why the world model needs one while it trains: its flow loss weighs every latent value alike,
and what tells a strafe from a turn (parallax across a chunk's frames) is a small part of a
chunk's latents. So the loss hardly changes when a predicted chunk shows the wrong one, and the
shipped Doom model draws a commanded strafe in about half its one-step predictions from real
contexts where the real chunk shows it almost always (`scripts/diagnose_actions.py`,
docs/levers.md). This reader gives training a signal that does care: it reads the world
model's predicted clean chunk (x0 = x_t - t * v) beside the real chunk before it, and the
cross-entropy of the recorded action is added to the loss (`TV2TVConfig.loss_action`, `tv2tv
train --action-reader DIR`).

It is trained on the training split's cached latents only (never held-out episodes, never the
bench's judge, which reads pixels and stays the independent referee), then frozen. Saved in
the diffusers layout (`config.json` + `diffusion_pytorch_model.safetensors`) by `tv2tv
train-action-reader` (tv2tv_env/training/action_reader.py).
"""
from __future__ import annotations

import torch
import torch.nn as nn
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin


class ActionReader(ModelMixin, ConfigMixin):
    """(previous chunk, chunk), each (B, F, C, h, w) latents -> (B, n_actions) logits.

    The two chunks' frames are stacked on channels (2F x C), so the first convolution already
    compares them; two more at the latent's resolution, one that halves it, then a linear head."""

    @register_to_config
    def __init__(self, n_actions: int, frames: int = 4, latent_channels: int = 8, latent_size: int = 8,
                 width: int = 128):
        super().__init__()
        c_in = 2 * frames * latent_channels
        self.body = nn.Sequential(
            nn.Conv2d(c_in, width, 3, padding=1), nn.GELU(),
            nn.Conv2d(width, width, 3, padding=1), nn.GELU(),
            nn.Conv2d(width, width, 3, padding=1, stride=2), nn.GELU())
        self.head = nn.Linear(width * (latent_size // 2) ** 2, n_actions)

    def forward(self, prev: torch.Tensor, chunk: torch.Tensor) -> torch.Tensor:
        x = torch.cat([prev, chunk], 1).flatten(1, 2)  # (B, 2F * C, h, w)
        return self.head(self.body(x).flatten(1))

