"""The frame VAE: `diffusers.AutoencoderKL`, trained from scratch on recorded frames.

Frames go in as uint8 (B, H, W, 3); latents come out normalised by the config's
`shift_factor` and `scaling_factor` (measured on training data after training), so the
world model sees roughly unit-variance latents. With the default config a 64x64 frame
becomes an 8x8x8 latent (downsampling factor 8, 8 channels).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL


@dataclass
class VAEConfig:
    block_out_channels: tuple = (32, 64, 128, 128)  # 4 blocks: 3 halvings, factor 8
    layers_per_block: int = 1
    latent_channels: int = 8
    norm_num_groups: int = 16
    kl_weight: float = 1e-6  # tiny: we want a sharp autoencoder with a tame latent scale
    l1_weight: float = 0.5  # L1 next to MSE keeps edges (muzzle flash, wall seams) crisper


def build_vae(cfg: VAEConfig = VAEConfig()) -> AutoencoderKL:
    n = len(cfg.block_out_channels)
    return AutoencoderKL(
        in_channels=3, out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * n, up_block_types=("UpDecoderBlock2D",) * n,
        block_out_channels=tuple(cfg.block_out_channels), layers_per_block=cfg.layers_per_block,
        latent_channels=cfg.latent_channels, norm_num_groups=cfg.norm_num_groups,
        scaling_factor=1.0, shift_factor=0.0,
    )


def to_unit(frames: torch.Tensor) -> torch.Tensor:
    """uint8 (..., H, W, 3) -> float (..., 3, H, W) in [-1, 1]."""
    x = frames.float().div(127.5).sub(1.0)
    return x.movedim(-1, -3).contiguous()


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float (..., 3, H, W) in [-1, 1] -> uint8 (..., H, W, 3)."""
    return x.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).movedim(-3, -1).contiguous()


def vae_loss(vae: AutoencoderKL, frames: torch.Tensor, cfg: VAEConfig) -> tuple[torch.Tensor, dict]:
    x = to_unit(frames)
    post = vae.encode(x).latent_dist
    rec = vae.decode(post.sample()).sample
    mse = F.mse_loss(rec.float(), x)
    l1 = F.l1_loss(rec.float(), x)
    kl = post.kl().mean() / x[0].numel()
    loss = mse + cfg.l1_weight * l1 + cfg.kl_weight * kl
    return loss, {"mse": mse.item(), "l1": l1.item(), "kl": kl.item()}


@torch.no_grad()
def encode(vae: AutoencoderKL, frames: torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> normalised latents (B, C, h, w), the posterior mean."""
    z = vae.encode(to_unit(frames).to(vae.device, vae.dtype)).latent_dist.mean
    return (z.float() - vae.config.shift_factor) * vae.config.scaling_factor


@torch.no_grad()
def decode(vae: AutoencoderKL, latents: torch.Tensor) -> torch.Tensor:
    """Normalised latents (B, C, h, w) -> uint8 frames (B, H, W, 3)."""
    z = latents / vae.config.scaling_factor + vae.config.shift_factor
    return to_uint8(vae.decode(z.to(vae.device, vae.dtype)).sample.float())


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean per-frame PSNR in dB between uint8 frame batches (inf where identical)."""
    mse = (a.float() - b.float()).pow(2).flatten(1).mean(1)
    vals = [math.inf if m == 0 else 10 * math.log10(255.0**2 / m) for m in mse.tolist()]
    return sum(vals) / len(vals)


@torch.no_grad()
def calibrate_scale(vae: AutoencoderKL, frames: torch.Tensor, batch: int = 256) -> tuple[float, float]:
    """Set shift_factor/scaling_factor so that latents of `frames` have mean 0, std 1."""
    zs = []
    for i in range(0, len(frames), batch):
        zs.append(vae.encode(to_unit(frames[i:i + batch]).to(vae.device)).latent_dist.mean.float().cpu())
    z = torch.cat(zs)
    shift, scale = z.mean().item(), 1.0 / z.std().item()
    vae.register_to_config(shift_factor=shift, scaling_factor=scale)
    return shift, scale
