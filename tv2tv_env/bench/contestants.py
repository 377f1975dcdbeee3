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
        self.trace = {}  # the last rollout's per-chunk end probabilities, rewards, texts and how each was read

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
        step_vecs = None
        if self.conditioning == "text":  # as the env reads a command: words, meaning or unplaced
            reads = [[w.read_command(t) for t in row] for row in texts]
            step_ids = [[r[0] for r in row] for row in reads]
            step_vecs = [[r[1] for r in row] for row in reads]
        gens = [torch.Generator().manual_seed(seed * 100_003 + b) for b in range(B)]
        out = np.zeros((B, H, *ctx.next_frames.shape[2:]), np.uint8)
        self.trace = {"end_prob": np.zeros((B, H), np.float32), "reward": np.zeros((B, H), np.float32),
                      "texts": [[None] * H for _ in range(B)],
                      "read_as": [[r[2] for r in row] for row in reads] if step_vecs else None}
        with precision.autocast(w.device, w.dtype):
            self.start(ctx, ctx_ids, prompts)
            for h in range(H):
                vecs = [step_vecs[b][h] for b in range(B)] if step_vecs else None
                out[:, h] = self._step([step_ids[b][h] for b in range(B)], gens, vecs, h)
        self.seconds += time.perf_counter() - t0
        self.frames += B * H * out.shape[2]
        return out

    def _step(self, ids, gens, vecs, h) -> np.ndarray:
        """One chunk for every stream, recorded in `trace`; returns its frames (B, F, H, W, 3)."""
        w = self.world
        res = w.sampler.step(ids, gens, commands=vecs)
        self.trace["end_prob"][:, h] = res.end_prob.cpu().numpy()
        self.trace["reward"][:, h] = res.reward.cpu().numpy()
        for b, t in enumerate(res.text_ids):
            self.trace["texts"][b][h] = w.tokenizer.decode(t)
        lat = res.latents
        return decode(w.vae, lat.flatten(0, 1)).view(len(ids), lat.shape[1], *w.frame_shape).cpu().numpy()

    @torch.no_grad()
    def own_text_rollout(self, ctx, horizon: int, seed: int = 0):
        """Yield (h, frames (B, F, H, W, 3)) for `horizon` chunks in which the model supplies its
        own text the way it was trained: TV2TV writes each chunk's text ("thinks"), Think2V
        writes its plan up front, T2V has only a prompt (the context's recorded text).
        An action-id model has no text of its own: ValueError."""
        w, B = self.world, len(ctx)
        gens = [torch.Generator().manual_seed(seed * 100_003 + b) for b in range(B)]
        ctx_ids = [[w.encode_text(t) for t in row] for row in ctx.texts]
        prompts, step = None, None  # step None: the model writes each chunk's text
        if self.conditioning == "prompt":
            prompts = [plan_prompt(row, self.sep) for row in ctx_ids]
        elif self.conditioning == "plan":
            prompts = write_prompt(w, gens)
        elif self.conditioning == "action_id":
            raise ValueError("an action-id model writes no text of its own")
        if prompts is not None:
            ctx_ids, step = [[[] for _ in row] for row in ctx_ids], []
        self.trace = {"end_prob": np.zeros((B, horizon), np.float32), "reward": np.zeros((B, horizon), np.float32),
                      "texts": [[None] * horizon for _ in range(B)],
                      "prompts": [w.tokenizer.decode(p) for p in prompts] if prompts else None}
        t0 = time.perf_counter()
        with precision.autocast(w.device, w.dtype):
            self.start(ctx, ctx_ids, prompts)
            for h in range(horizon):
                frames = self._step([step] * B, gens, None, h)
                self.seconds += time.perf_counter() - t0
                self.frames += frames.shape[0] * frames.shape[1]
                yield h, frames
                t0 = time.perf_counter()


    def start(self, ctx: StartContexts, ctx_ids: list, prompts: list | None):
        """Reset the sampler on the real context chunks, encoded by this model's own VAE."""
        w = self.world
        real = torch.from_numpy(ctx.frames).flatten(0, 1).flatten(0, 1)
        lat = encode(w.vae, real).float().view(*ctx.frames.shape[:3], *encode_shape(w))
        w.sampler.reset(lat, ctx_ids, prompts)


@torch.no_grad()
def write_prompt(world: WorldModel, generators: list, max_tokens: int = 64) -> list[list[int]]:
    """Let a plan-writing model (Think2V) write the text before its first chunk: from <bos>,
    token by token until <bof> (at most `max_tokens`). The <bof> is not part of the prompt:
    the sampler places one before each chunk."""
    from model.sequence import TEXT, attention_mask

    model, special, dev = world.model, world.sampler.special, world.device
    rows = [[special["bos"]] for _ in generators]
    done = [False] * len(generators)
    for _ in range(max_tokens):
        L = max(len(r) for r in rows)
        ids = torch.tensor([r + [special["pad"]] * (L - len(r)) for r in rows], device=dev)
        kind = torch.full_like(ids, TEXT)
        order = torch.arange(L, device=dev)[None].expand_as(ids)
        out = model(ids, kind, order, torch.zeros_like(ids), torch.zeros(*ids.shape, model.config.patch_dim, device=dev),
                    torch.zeros(ids.shape, device=dev), attention_mask(kind, order, torch.full_like(ids, -1)))
        last = out.hidden[torch.arange(len(rows), device=dev), torch.tensor([len(r) - 1 for r in rows], device=dev)]
        probs = torch.softmax(model.text_logits(last).float().cpu() / max(world.sampler.temperature, 1e-4), -1)
        for b, g in enumerate(generators):
            if done[b]:
                continue
            tok = int(torch.multinomial(probs[b], 1, generator=g))
            if tok in (special["bof"], special["eof"], special["pad"]):
                done[b] = True
            else:
                rows[b].append(tok)
        if all(done):
            break
    return [r[1:] for r in rows]


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
