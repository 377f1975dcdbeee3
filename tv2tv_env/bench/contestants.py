"""The models the benchmark compares, behind one call: roll out commands from real contexts.

A contestant gets B real start contexts and, per stream, H commands (a text and the action
label it stands for) and returns the H generated chunks' frames. Each world model is driven
the way it was trained (`TV2TVConfig.conditioning`, see `tv2tv_env/conditioning.py`):

    text       each chunk's command text before the chunk (TV2TV)
    prompt     T2V: all commands joined into one prompt before the context, chunks bare
    plan       Think2V: the same plan up front (the model was trained to write it)
    action_id  each chunk's action token (the label, not the words)

`CopyLastFrame` repeats the last real frame: the floor every model must beat.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import torch

from model import precision
from model.vae import decode, encode

from ..conditioning import PLAN_SEPARATOR, action_token, plan_prompt
from ..world import WorldModel, resolve_checkpoint


@dataclass
class StartContexts:
    """B real starts from held-out episodes and what really came next."""

    frames: np.ndarray  # (B, Kc, F, H, W, 3) uint8 real frames of the context chunks
    texts: list  # (B, Kc) recorded text of the context chunks
    actions: np.ndarray  # (B, Kc) recorded action ids of the context chunks
    next_frames: np.ndarray  # (B, Hr, F, H, W, 3) the real continuation
    next_texts: list  # (B, Hr) its recorded text
    next_actions: np.ndarray  # (B, Hr) its recorded action ids
    source: list  # "episode:chunk" of each start

    def __len__(self):
        return len(self.frames)

    @property
    def last_frames(self) -> np.ndarray:  # (B, F, H, W, 3) the last context chunk
        return self.frames[:, -1]

    def take(self, rows) -> "StartContexts":
        rows = list(rows)
        pick = lambda x: [x[r] for r in rows] if isinstance(x, list) else x[rows]  # noqa: E731
        return StartContexts(*[pick(getattr(self, f)) for f in self.__dataclass_fields__])


class Contestant:
    name: str
    conditioning: str = "none"
    info: dict = {}

    def rollout(self, ctx: StartContexts, texts: list, actions: np.ndarray, seed: int = 0) -> np.ndarray:
        """texts[b][h], actions[b][h] -> frames (B, H, F, H, W, 3) uint8."""
        raise NotImplementedError


class CopyLastFrame(Contestant):
    name, conditioning = "copy-last-frame", "none"

    def __init__(self):
        self.info = {"what": "repeats the last real frame"}

    def rollout(self, ctx, texts, actions, seed=0):
        H = len(texts[0])
        last = ctx.last_frames[:, -1:]  # (B, 1, H, W, 3)
        F = ctx.last_frames.shape[1]
        return np.repeat(np.repeat(last[:, None], F, 2), H, 1)


class RealContinuation(Contestant):
    """What really happened after each start, whatever the commands: the reference against
    which the metrics have known answers (PSNR inf, the judge's own accuracy)."""

    name, conditioning = "real", "none"

    def __init__(self):
        self.info = {"what": "the recorded continuation (ignores the commands)"}

    def rollout(self, ctx, texts, actions, seed=0):
        H = len(texts[0])
        if H > ctx.next_frames.shape[1]:
            raise ValueError(f"only {ctx.next_frames.shape[1]} real chunks follow each start, {H} asked")
        return ctx.next_frames[:, :H]


class WorldContestant(Contestant):
    """A trained world model (TV2TV or a baseline) loaded from a checkpoint or run directory."""

    def __init__(self, name: str, checkpoint, device: str = "auto", guidance: float | None = None):
        self.name = name
        self.world = WorldModel(checkpoint, _game_of(checkpoint), device, guidance=guidance)
        self.conditioning = self.world.model.config.conditioning
        if self.conditioning in ("prompt", "plan"):
            self.world.sampler.guidance = 1.0  # chunks carry no text: guided and unguided branches agree
        self.sep = self.world.tokenizer.encode(PLAN_SEPARATOR, add_special_tokens=False)
        self.info = _run_info(self.world)
        self.seconds, self.frames = 0.0, 0

    @torch.no_grad()
    def rollout(self, ctx, texts, actions, seed=0):
        w, B, H = self.world, len(ctx), len(texts[0])
        t0 = time.perf_counter()
        ctx_ids = [[w.encode_text(t) for t in row] for row in ctx.texts]
        step_ids = [[w.encode_text(t) for t in row] for row in texts]
        prompts = None
        if self.conditioning in ("prompt", "plan"):
            prompts = [plan_prompt(ctx_ids[b] + step_ids[b], self.sep) for b in range(B)]
            ctx_ids = [[[] for _ in row] for row in ctx_ids]
            step_ids = [[[] for _ in row] for row in step_ids]
        elif self.conditioning == "action_id":
            ctx_ids = [[[action_token(a)] for a in row] for row in ctx.actions]
            step_ids = [[[action_token(a)] for a in row] for row in actions]
        gens = [torch.Generator().manual_seed(seed * 100_003 + b) for b in range(B)]
        out = np.zeros((B, H, *ctx.next_frames.shape[2:]), np.uint8)
        with precision.autocast(w.device, w.dtype):
            real = torch.from_numpy(ctx.frames).flatten(0, 1).flatten(0, 1)  # this model's own VAE encodes them
            lat = encode(w.vae, real).float().view(*ctx.frames.shape[:3], *encode_shape(w))
            w.sampler.reset(lat, ctx_ids, prompts)
            for h in range(H):
                res = w.sampler.step([step_ids[b][h] for b in range(B)], gens)
                lat = res.latents
                out[:, h] = decode(w.vae, lat.flatten(0, 1)).view(B, lat.shape[1], *out.shape[3:]).cpu().numpy()
        self.seconds += time.perf_counter() - t0
        self.frames += B * H * out.shape[2]
        return out


def encode_shape(world: WorldModel) -> tuple:
    c = world.model.config
    return (c.latent_channels, c.latent_size, c.latent_size)


def _game_of(checkpoint) -> str:
    return json.loads((resolve_checkpoint(checkpoint).model / "config.json").read_text()).get("game", "doom")


def _run_info(world: WorldModel) -> dict:
    """Config, data and step budget of a checkpoint, from its run files where present."""
    root, c = world.paths.root, world.model.config
    info = {"checkpoint": str(root), "conditioning": c.conditioning, "d_model": c.d_model, "n_layers": c.n_layers,
            "params": sum(p.numel() for p in world.model.parameters())}
    metrics = root / "metrics.jsonl"
    if metrics.is_file():
        lines = [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()]
        if lines:
            info.update(steps=lines[-1].get("step"), train_minutes=round(lines[-1].get("elapsed_s", 0) / 60, 1))
    args = root / "train_args.json"
    if args.is_file():
        a = json.loads(args.read_text())
        info.update(batch_size=a.get("batch_size"), max_minutes=a.get("max_minutes"))
    progress = world.paths.model / "train_progress.json"  # exported weights (scripts/export_weights.py)
    if progress.is_file():
        p = json.loads(progress.read_text())
        info.update(steps=p.get("step"), train_minutes=round(p.get("elapsed_s", 0) / 60, 1))
    card = root / "model_info.json"  # shipped checkpoints carry their run's figures here
    if card.is_file():
        info.update(json.loads(card.read_text()))
    return info
