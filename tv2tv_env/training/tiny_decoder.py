"""The tiny decoder as a training task: distil a checkpoint's VAE decoder into
model/tiny_decoder.py's few conv blocks (`loop.fit` runs it).

Examples are the cached latents of a recording's train split (`tv2tv encode`), each with two
targets: what the full VAE decoder draws from it (the teacher, decoded once up front) and the
real frame it was encoded from. The loss is L1 + MSE to the teacher plus `real_weight` x L1 to
the real frame, in the decoder's [-1, 1] space: the student learns to draw what the full
decoder draws, and is pulled a little towards the truth where the teacher blurs it.

OUT (a checkpoint's `tiny_decoder/`) is the checkpoint while it trains and holds the finished
decoder with `training.json` (its PSNR against the full decoder and against real frames on
held-out frames, beside the full decoder's own PSNR against real frames).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from model import precision
from model.atomic import atomic_dir
from model.tiny_decoder import TinyDecoder, tiny_decode
from model.vae import decode, psnr, to_unit

from ..data.dataset import iter_episodes, read_meta
from ..data.latents import cache_dir, read_latent_episode
from ..errors import UserError
from .args import TINY_DECODER_ARGS, TrainArgs
from .loop import STATE_FILE, Task, fit

REAL_WEIGHT = 0.25  # the pull towards the real frame, beside the teacher's frame


def load_pairs(data, vae_dir, split: str, max_frames: int | None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Cached latents (N, C, h, w) float32 and their real frames (N, H, W, 3) uint8 of a split."""
    cache = cache_dir(data, vae_dir)
    meta = read_meta(data)
    lats, frames = [], []
    for path, ep in iter_episodes(data, split):
        lat = read_latent_episode(data, cache, path, meta)
        lats += [lat.start[None], lat.chunks.reshape(-1, *lat.chunks.shape[2:])]
        frames += [ep.start_frame[None], ep.frames.reshape(-1, *ep.frames.shape[2:])]
    if not lats:
        raise UserError(f"no usable {split} episodes in {data}")
    lat, fr = np.concatenate(lats), np.concatenate(frames)
    if max_frames and len(lat) > max_frames:
        keep = np.sort(np.random.default_rng(seed).choice(len(lat), max_frames, replace=False))
        lat, fr = lat[keep], fr[keep]
    return torch.from_numpy(lat.astype(np.float32)), torch.from_numpy(fr)


@torch.no_grad()
def teacher_frames(vae, latents: torch.Tensor, dev, dtype, batch: int = 64) -> torch.Tensor:
    """What the full decoder draws from each latent, uint8 (N, H, W, 3)."""
    out = []
    with precision.autocast(dev, dtype):
        for i in range(0, len(latents), batch):
            out.append(decode(vae, latents[i:i + batch]).cpu())
    return torch.cat(out)


class TinyDecoderTask(Task):
    name = "train tiny decoder"

    def __init__(self, decoder: TinyDecoder, latents, teacher, real, held: dict, batch_size: int):
        self.model, self.latents, self.teacher, self.real = decoder, latents, teacher, real
        self.held, self.batch_size = held, batch_size

    def loss(self, net, step, gen, rows):
        idx = torch.randint(len(self.latents), (self.batch_size,), generator=gen)[rows]
        out = net(self.latents[idx].to(self.device)).float()
        teacher = to_unit(self.teacher[idx]).to(self.device)
        real = to_unit(self.real[idx]).to(self.device)
        l1, mse, l1_real = F.l1_loss(out, teacher), F.mse_loss(out, teacher), F.l1_loss(out, real)
        return l1 + mse + REAL_WEIGHT * l1_real, {"loss_l1": l1.item(), "loss_mse": mse.item(),
                                                  "loss_l1_real": l1_real.item()}

    def config(self):
        return dict(self.model.config)

    def evaluate(self, weights, step):
        return heldout_figures(weights, self.held)


def heldout_figures(decoder, held: dict) -> dict:
    """PSNR of the tiny decoder against the full decoder and against the real frames, on held-out latents."""
    was = decoder.training
    decoder.eval()
    frames = torch.cat([tiny_decode(decoder, held["latents"][i:i + 256]).cpu() for i in range(0, len(held["latents"]), 256)])
    decoder.train(was)
    return {"psnr_vs_full_decoder": psnr(frames, held["teacher"]), "psnr_vs_real": psnr(frames, held["real"]),
            "full_decoder_psnr_vs_real": held["full_vs_real"]}


def train_tiny_decoder(vae_dir, data, out, args: TrainArgs = TINY_DECODER_ARGS, max_frames: int | None = 32768,
                       width: int = 128, blocks: int = 2, resume: bool = False, progress: bool = True) -> dict:
    """Distil the decoder of the VAE in `vae_dir` on recording `data` (with a latent cache for that
    VAE) into OUT. Returns the summary written to OUT/training.json."""
    from diffusers import AutoencoderKL

    out = Path(out)
    if (out / STATE_FILE).is_file() and not resume:
        raise UserError(f"{out} holds a stopped tiny-decoder run; pass --resume to continue it or choose another --out")
    if not (Path(vae_dir) / "config.json").is_file():
        raise UserError(f"no VAE at {vae_dir} (config.json missing): give the checkpoint's vae/ directory")
    vae = AutoencoderKL.from_pretrained(vae_dir, torch_dtype=torch.float32, low_cpu_mem_usage=False).eval()
    dev = precision.resolve_device(args.device)
    dtype = precision.autocast_dtype(dev, args.precision)
    vae.to(dev)
    latents, real = load_pairs(data, vae_dir, "train", max_frames, args.seed)
    h_lat, h_real = load_pairs(data, vae_dir, "heldout", 1024, args.seed)
    teacher, h_teacher = teacher_frames(vae, latents, dev, dtype), teacher_frames(vae, h_lat, dev, dtype)
    held = {"latents": h_lat, "teacher": h_teacher, "real": h_real, "full_vs_real": psnr(h_teacher, h_real)}
    torch.manual_seed(args.seed)
    decoder = TinyDecoder(latent_channels=latents.shape[1], width=width, blocks=blocks,
                          upscale=real.shape[1] // latents.shape[-1])
    task = TinyDecoderTask(decoder, latents, teacher, real, held, args.batch_size)
    result = fit(task, args, out, out.with_suffix(".metrics.jsonl"), resume=resume, progress=progress)
    weights = task.weights  # the EMA
    summary = {"vae": str(vae_dir), "data": str(data), "train_frames": len(latents),
               "heldout_frames": len(h_lat), "step": result["step"], "minutes": round(result["elapsed_s"] / 60, 1),
               "params": sum(p.numel() for p in decoder.parameters()), "real_weight": REAL_WEIGHT,
               **{k: result[k] for k in ("psnr_vs_full_decoder", "psnr_vs_real", "full_decoder_psnr_vs_real")},
               "device": result["device"], "dtype": result["dtype"], "cpu_capability": result["cpu_capability"]}
    if not result["stopped_by_signal"]:  # finished: OUT keeps the decoder alone
        with atomic_dir(out) as tmp:
            weights.save_pretrained(tmp)
            (tmp / "training.json").write_text(json.dumps(summary, indent=2))
    return summary
