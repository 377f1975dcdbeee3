"""The frame VAE as a training task: diffusers' AutoencoderKL on uint8 frames (model/vae.py has
the network and its loss; `loop.fit` the loop).

The VAE directory OUT is its checkpoint: while training it holds the weights so far and
`train_state.pt` (so `resume=True` continues a stopped run exactly); at the end the latent scale
is calibrated and OUT is rewritten with the weights and `training.json` alone. Metrics go to
OUT.metrics.jsonl beside it.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch

from model.atomic import atomic_dir
from model.vae import VAEConfig, build_vae, calibrate_scale, decode, encode, psnr, vae_loss

from ..errors import UserError
from .args import VAE_ARGS, TrainArgs
from .loop import STATE_FILE, Task, fit

@torch.no_grad()
def heldout_psnr(vae, frames: torch.Tensor, batch: int = 256) -> float:
    was = vae.training
    vae.eval()
    total, n = 0.0, 0
    for i in range(0, len(frames), batch):
        x = frames[i:i + batch]
        rec = decode(vae, encode(vae, x.to(vae.device))).cpu()
        total += psnr(rec, x) * len(x)
        n += len(x)
    vae.train(was)
    return total / n


def check_init(init) -> Path:
    """`init` as a Path if it holds a VAE; a UserError naming what to give otherwise."""
    init = Path(init)
    if not (init / "config.json").is_file():
        raise UserError(f"--init {init}: no VAE there (config.json missing); give a directory from "
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


class VAETask(Task):
    name = "train vae"

    def __init__(self, train: torch.Tensor, heldout: torch.Tensor, cfg: VAEConfig, batch_size: int, init=None,
                 seed: int = 0):
        torch.manual_seed(seed)  # the initial weights
        self.vae, self.cfg = load_init(init, cfg) if init is not None else (build_vae(cfg), cfg)
        self.model, self.train, self.batch_size = self.vae, train, batch_size
        self.eval_frames = heldout[: min(len(heldout), 2048)]

    def loss(self, net, step, gen, rows):
        if not hasattr(self, "data"):  # a few GB of uint8 frames fit on a GPU
            self.data = self.train.to(self.device) if self.device.type == "cuda" else self.train
        idx = torch.randint(len(self.train), (self.batch_size,), generator=gen)[rows]
        x = self.data[idx.to(self.data.device)]
        flip = (torch.rand(self.batch_size, generator=gen)[rows] < 0.5).to(x.device)  # mirror images are as valid
        x = torch.where(flip[:, None, None, None], x.flip(2), x).to(self.device, non_blocking=True)
        loss, parts = vae_loss(net, x, self.cfg)
        return loss, {f"loss_{k}": v for k, v in parts.items()}  # mse, l1, kl: averaged in the metrics

    def config(self):
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.cfg).items()}

    def evaluate(self, weights, step):
        return {"heldout_psnr": heldout_psnr(weights, self.eval_frames)} if len(self.eval_frames) else {}


def train_vae(train: torch.Tensor, heldout: torch.Tensor, out, cfg: VAEConfig = VAEConfig(),
              args: TrainArgs = VAE_ARGS, init=None, resume: bool = False, progress: bool = True) -> dict:
    """train/heldout: uint8 (N, H, W, 3) CPU tensors. Trains into the VAE directory `out`.
    Returns the final summary.

    init: a VAE directory to start from (its weights and shape; only `cfg`'s loss weights are used), for a
    game whose frames changed a little, e.g. recorded at another pace: minutes of fine-tuning instead
    of a new VAE from scratch."""
    out = Path(out)
    if (out / STATE_FILE).is_file() and not resume:
        raise UserError(f"{out} holds a stopped VAE training run; pass --resume to continue it or choose another --out")
    task = VAETask(train, heldout, cfg, args.batch_size, init, args.seed)
    result = fit(task, args, out, out.with_suffix(".metrics.jsonl"), resume=resume, progress=progress)
    vae = task.vae
    gen = torch.Generator().manual_seed(args.seed)
    calibrate_scale(vae, train[torch.randperm(len(train), generator=gen)[:4096]])
    final = heldout_psnr(vae, heldout) if len(heldout) else float("nan")
    summary = {"init": str(init) if init is not None else None, "step": result["step"], "heldout_psnr": final,
               "heldout_frames": len(heldout), "train_frames": len(train), "minutes": result["elapsed_s"] / 60,
               "batch": args.batch_size, "lr": args.lr, "params": sum(p.numel() for p in vae.parameters()),
               "config": task.cfg.__dict__, "stopped_by_signal": result["stopped_by_signal"],
               "device": result["device"], "dtype": result["dtype"]}
    if not result["stopped_by_signal"]:  # finished: OUT keeps the weights alone (no training state)
        with atomic_dir(out) as tmp:
            vae.save_pretrained(tmp)  # config.json + diffusion_pytorch_model.safetensors
            (tmp / "training.json").write_text(json.dumps(summary, indent=2))
    with open(out.with_suffix(".metrics.jsonl"), "a") as log:
        log.write(json.dumps({"final": summary}) + "\n")
    return summary

