"""Train the frame VAE on a tensor of uint8 frames; save it in the diffusers layout.

The data side (which frames, from where) belongs to the caller (`tv2tv train-vae`);
this module only sees tensors. Checkpoints are written to a temporary directory and
renamed, so a killed run leaves the last complete one.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from tqdm import tqdm

from . import precision
from .atomic import atomic_dir
from .schedule import warmup_cosine
from .vae import VAEConfig, build_vae, calibrate_scale, decode, encode, psnr, vae_loss


@torch.no_grad()
def heldout_psnr(vae, frames: torch.Tensor, batch: int = 256) -> float:
    vae.eval()
    total, n = 0.0, 0
    for i in range(0, len(frames), batch):
        x = frames[i:i + batch]
        rec = decode(vae, encode(vae, x.to(vae.device))).cpu()
        total += psnr(rec, x) * len(x)
        n += len(x)
    vae.train()
    return total / n


def check_init(init) -> Path:
    """`init` as a Path if it holds a VAE; FileNotFoundError naming what to give otherwise."""
    init = Path(init)
    if not (init / "config.json").is_file():
        raise FileNotFoundError(f"--init {init}: no VAE there (config.json missing); give a directory from "
                                "`tv2tv train-vae` or a world's vae/ folder")
    return init


def load_init(init, cfg: VAEConfig):
    """The VAE in directory `init` and its config (the loss weights stay `cfg`'s)."""
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(check_init(init), torch_dtype=torch.float32)
    c = vae.config
    cfg = VAEConfig(block_out_channels=tuple(c.block_out_channels), layers_per_block=c.layers_per_block,
                    latent_channels=c.latent_channels, norm_num_groups=c.norm_num_groups,
                    kl_weight=cfg.kl_weight, l1_weight=cfg.l1_weight)
    return vae, cfg


def save_atomic(vae, out: Path, extra: dict):
    with atomic_dir(out) as tmp:
        vae.save_pretrained(tmp)  # config.json + diffusion_pytorch_model.safetensors
        (tmp / "training.json").write_text(json.dumps(extra, indent=2))


def train_vae(train: torch.Tensor, heldout: torch.Tensor, out, cfg: VAEConfig = VAEConfig(),
              max_steps: int = 10_000, max_minutes: float | None = None, batch: int = 64, lr: float = 1e-3,
              device: str = "auto", precision_mode: str = "auto", eval_every: int = 500, seed: int = 0,
              progress: bool = True, init=None) -> dict:
    """train/heldout: uint8 (N, H, W, 3) CPU tensors. Returns the final summary.

    init: a VAE directory to start from (its weights and shape; only `cfg`'s loss weights are used), for a
    game whose frames changed a little, e.g. recorded at another pace: minutes of fine-tuning instead
    of a new VAE from scratch."""
    torch.manual_seed(seed)
    dev = precision.resolve_device(device)
    dtype = precision.autocast_dtype(dev, precision_mode)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if init is not None:
        vae, cfg = load_init(init, cfg)
    else:
        vae = build_vae(cfg)
    vae = vae.to(dev)
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0, betas=(0.9, 0.99))
    gen = torch.Generator().manual_seed(seed)
    log = open(out.with_suffix(".metrics.jsonl"), "a")
    t0, step = time.perf_counter(), 0
    info = precision.describe(dev, dtype)
    bar = tqdm(total=max_steps, desc="train vae", disable=not progress)
    ev = heldout[: min(len(heldout), 2048)]
    data = train.to(dev) if dev.type == "cuda" else train  # a few GB of uint8 frames fit on a GPU
    while step < max_steps:
        elapsed = time.perf_counter() - t0
        prog = max(step / max_steps, elapsed / (60 * max_minutes) if max_minutes else 0.0)
        if prog >= 1.0:
            break
        for g in opt.param_groups:
            g["lr"] = warmup_cosine(prog, lr, warmup=0.02)
        idx = torch.randint(len(train), (batch,), generator=gen)
        x = data[idx.to(data.device)]
        flip = (torch.rand(batch, generator=gen) < 0.5).to(x.device)  # mirror images are as valid as the originals
        x = torch.where(flip[:, None, None, None], x.flip(2), x).to(dev, non_blocking=True)
        with precision.autocast(dev, dtype):
            loss, parts = vae_loss(vae, x, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        step += 1
        bar.update(1)
        if step % 50 == 0:
            rec = {"step": step, "loss": loss.item(), **parts, "lr": opt.param_groups[0]["lr"],
                   "frames_per_s": step * batch / (time.perf_counter() - t0)}
            log.write(json.dumps(rec) + "\n")
            bar.set_postfix(loss=f"{loss.item():.4f}")
        if step % eval_every == 0 and len(ev):
            p = heldout_psnr(vae, ev)
            log.write(json.dumps({"step": step, "heldout_psnr": p, "minutes": (time.perf_counter() - t0) / 60}) + "\n")
            log.flush()
            bar.set_postfix(loss=f"{loss.item():.4f}", psnr=f"{p:.2f}")
            save_atomic(vae, out, {"step": step, "heldout_psnr": p, **info})
    bar.close()
    calibrate_scale(vae, train[torch.randperm(len(train), generator=gen)[:4096]])
    final = heldout_psnr(vae, heldout) if len(heldout) else float("nan")
    summary = {"init": str(init) if init is not None else None, "step": step, "heldout_psnr": final,
               "heldout_frames": len(heldout), "train_frames": len(train),
               "minutes": (time.perf_counter() - t0) / 60, "batch": batch, "lr": lr,
               "params": sum(p.numel() for p in vae.parameters()), "config": cfg.__dict__, **info}
    save_atomic(vae, out, summary)
    log.write(json.dumps({"final": summary}) + "\n")
    log.close()
    return summary
