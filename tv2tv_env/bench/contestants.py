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

from ..conditioning import PLAN_SEPARATOR, commanded_inputs, own_text_inputs
from ..world import DEFAULT_CACHE, WorldModel


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
    """A trained world model (TV2TV or a baseline) loaded from a checkpoint or run directory,
    driven through `WorldModel` as the env drives it, fed the way it was trained
    (`tv2tv_env/conditioning.py`). `game`: the benchmark data's game (None: the checkpoint's)."""

    def __init__(self, name: str, checkpoint, game: str | None = None, device: str = "auto",
                 guidance: float | None = None, cache: str = DEFAULT_CACHE, distilled=None, decoder: str = "full"):
        self.name = name
        self.world = WorldModel(checkpoint, game=game, device=device, guidance=guidance, cache=cache,
                                distilled=distilled, decoder=decoder)
        self.conditioning = self.world.conditioning
        self.sep = self.world.tokenizer.encode(PLAN_SEPARATOR, add_special_tokens=False)  # as in training
        self.info = _run_info(self.world)
        self.seconds, self.frames = 0.0, 0
        self.trace = {}  # the last rollout's per-chunk end probabilities, rewards, texts and how each was read

    def rollout(self, ctx, texts, actions, seed=0):
        w, B, H = self.world, len(ctx), len(texts[0])
        t0 = time.perf_counter()
        ctx_ids = [[w.encode_text(t) for t in row] for row in ctx.texts]
        reads = [[w.interpret_command(t) for t in row] for row in texts]  # as the env reads a command
        step_ids = [[r[0] if self.conditioning == "text" else w.encode_text(t) for r, t in zip(rr, row)]
                    for rr, row in zip(reads, texts)]
        ctx_ids, step_ids, prompts = commanded_inputs(self.conditioning, ctx_ids, step_ids, ctx.actions, actions,
                                                      self.sep)
        vecs = [[r[1] for r in row] for row in reads] if self.conditioning == "text" else None
        self.trace = self._new_trace(B, H, read_as=[[r[2] for r in row] for row in reads] if vecs else None)
        out = np.zeros((B, H, *ctx.next_frames.shape[2:]), np.uint8)
        gens = self._generators(B, seed)
        w.reset_to_frames(ctx.frames, ctx_ids, prompts)
        for h in range(H):
            out[:, h] = self._step([step_ids[b][h] for b in range(B)], gens, [v[h] for v in vecs] if vecs else None, h)
        self.seconds += time.perf_counter() - t0
        self.frames += B * H * out.shape[2]
        return out

    def own_text_rollout(self, ctx, horizon: int, seed: int = 0):
        """Yield (h, frames (B, F, H, W, 3)) for `horizon` chunks in which the model supplies its
        own text the way it was trained (`conditioning.own_text_inputs`: TV2TV thinks chunk by
        chunk, Think2V writes its plan up front, T2V has the context's text as its prompt).
        An action-id model has no text of its own: ValueError."""
        w, B = self.world, len(ctx)
        gens = self._generators(B, seed)
        ctx_ids = [[w.encode_text(t) for t in row] for row in ctx.texts]
        ctx_ids, step, prompts = own_text_inputs(self.conditioning, ctx_ids, self.sep, lambda: w.write_plan(gens))
        self.trace = self._new_trace(B, horizon, prompts=[w.tokenizer.decode(p) for p in prompts] if prompts else None)
        t0 = time.perf_counter()
        w.reset_to_frames(ctx.frames, ctx_ids, prompts)
        for h in range(horizon):
            frames = self._step([step] * B, gens, None, h)
            self.seconds += time.perf_counter() - t0
            self.frames += frames.shape[0] * frames.shape[1]
            yield h, frames
            t0 = time.perf_counter()

    def _step(self, ids, gens, vecs, h) -> np.ndarray:
        """One chunk for every stream, recorded in `trace`; returns its frames (B, F, H, W, 3)."""
        res = self.world.step_text_ids(ids, gens, vecs)
        self.trace["end_prob"][:, h] = res.end_prob
        self.trace["reward"][:, h] = res.reward
        for b, t in enumerate(res.texts):
            self.trace["texts"][b][h] = t
        return res.frames

    @staticmethod
    def _generators(B: int, seed: int) -> list:
        return [torch.Generator().manual_seed(seed * 100_003 + b) for b in range(B)]

    @staticmethod
    def _new_trace(B: int, H: int, **more) -> dict:
        return {"end_prob": np.zeros((B, H), np.float32), "reward": np.zeros((B, H), np.float32),
                "texts": [[None] * H for _ in range(B)], **more}


def _run_info(world: WorldModel) -> dict:
    """Config, data and step budget of a checkpoint, from its run files where present."""
    root, c = world.paths.root, world.model.config
    info = {"checkpoint": str(root), "conditioning": c.conditioning, "d_model": c.d_model, "n_layers": c.n_layers,
            "params": sum(p.numel() for p in world.model.parameters()), "cache": world.sampler.cache,
            "distilled_steps": world.sampler.student_steps}
    metrics = root / "metrics.jsonl"
    if metrics.is_file():
        lines = [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()]
        if lines:
            info.update(steps=lines[-1].get("step"), train_minutes=round(lines[-1].get("elapsed_s", 0) / 60, 1))
    args = root / "train_args.json"
    if args.is_file():
        a = json.loads(args.read_text())
        info.update(batch_size=a.get("batch_size"), max_minutes=a.get("max_minutes"))
    progress = world.paths.model / "train_progress.json"  # exported weights (`tv2tv export-weights`)
    if progress.is_file():
        p = json.loads(progress.read_text())
        info.update(steps=p.get("step"), train_minutes=round(p.get("elapsed_s", 0) / 60, 1))
    card = root / "model_info.json"  # shipped checkpoints carry their run's figures here
    if card.is_file():
        info.update(json.loads(card.read_text()))
    return info
