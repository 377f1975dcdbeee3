"""A tiny frame decoder: the VAE's normalised latents -> frames, at a small share of the VAE
decoder's cost (TAESD is the model: a few conv blocks distilled from the full decoder).

On a CPU, turning latents into pixels was most of an env step (the diffusers decoder spends
~1.8 GFLOP on a 64x64 frame, convolutions at full resolution with 64-128 channels). Here the
width sits where the resolution is low: residual blocks of `width` channels at the latent's
8x8, then PixelShuffle up to 32x32, two thin convolutions there, and one more PixelShuffle to
64x64 (measured on random weights, 32 frames: 54 ms against the full decoder's 682 ms, AVX2
fp32; MEASURED.md). Its output has the VAE decoder's range, [-1, 1] before `to_uint8`.

Saved in the diffusers layout (`config.json` + `diffusion_pytorch_model.safetensors`) beside a
checkpoint's `vae/`, as `tiny_decoder/`; trained by `tv2tv train-tiny-decoder`
(tv2tv_env/training/tiny_decoder.py).
"""
from __future__ import annotations

import torch
import torch.nn as nn
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin

from .vae import to_uint8


class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.SiLU(), nn.Conv2d(c, c, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


class TinyDecoder(ModelMixin, ConfigMixin):
    """(B, latent_channels, h, w) normalised latents -> (B, 3, h * upscale, w * upscale) in [-1, 1].

    `width` channels and `blocks` residual blocks at the latent's resolution; then each 2x step
    up (PixelShuffle: channels become pixels) halves the channels, so the cost stays at low
    resolution; one refining convolution at the last-but-one scale, and the last step makes RGB."""

    @register_to_config
    def __init__(self, latent_channels: int = 8, width: int = 128, blocks: int = 2, upscale: int = 8):
        super().__init__()
        steps = upscale.bit_length() - 1
        if upscale < 2 or 2**steps != upscale:
            raise ValueError(f"upscale {upscale}: a power of two (the VAE's downsampling factor)")
        self.stem = nn.Sequential(nn.Conv2d(latent_channels, width, 3, padding=1), nn.SiLU(),
                                  *[ResBlock(width) for _ in range(blocks)])
        ups, c = [], width
        for _ in range(steps - 1):
            ups += [nn.Conv2d(c, (c // 2) * 4, 3, padding=1), nn.PixelShuffle(2), nn.SiLU()]
            c //= 2
        self.up = nn.Sequential(*ups, nn.Conv2d(c, c, 3, padding=1), nn.SiLU())
        self.to_rgb = nn.Sequential(nn.Conv2d(c, 3 * 4, 3, padding=1), nn.PixelShuffle(2))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.to_rgb(self.up(self.stem(z))).tanh()


@torch.no_grad()
def tiny_decode(decoder: TinyDecoder, latents: torch.Tensor) -> torch.Tensor:
    """Normalised latents (B, C, h, w) -> uint8 frames (B, H, W, 3), as `model.vae.decode` gives."""
    return to_uint8(decoder(latents.to(decoder.device, decoder.dtype)).float())
