"""Distillation as a training task: teach a copy of a world model to draw a chunk in a few Euler
steps without guidance, what the model draws in its full steps with guidance (model/distill.py
has the mathematics; `loop.fit` the loop).

Examples are real windows of the recording's train split: `context_chunks` chunks of context
and the next chunk's recorded command, with noise drawn from (seed, step), so `resume`
continues exactly. OUT/student/ is the checkpoint: the student (config.json + model.safetensors,
its `sampling_steps` and `guidance` = 1 in its config) and train_state.pt; OUT/metrics.jsonl
holds, every `eval_every` steps, the held-out loss beside the teacher's own few-step loss (the
teacher drawing with the student's step count and its guidance: what distillation must beat).
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch

from model.distill import distill_loss, teacher_chunk
from model.mot import TV2TVModel

from ..errors import UserError
from .args import DISTILL_ARGS, TrainArgs
from .loop import Task, find_checkpoint, fit

def _examples(windows, rows, noise):
    """One batch of distillation examples from windows `rows`: context, command, noise."""
    b = windows.get(rows)
    texts = b["texts"]
    commands = [c[-1] for c in b["commands"]] if "commands" in b else None
    return {"context_latents": b["latents"][:, :-1], "context_texts": [t[:-1] for t in texts],
            "texts": [t[-1] for t in texts], "commands": commands, "noise": noise}


class DistillTask(Task):
    name = "distill"

    def __init__(self, world, train, held, student_steps: int, batch_size: int, eval_batches: int, seed: int):
        self.sampler, self.train, self.steps = world.sampler, train, student_steps
        cfg = world.model.config
        self.noise_shape = (cfg.tokens_per_chunk, cfg.patch_dim)
        # a copy of the teacher whose config says how it samples (what save_pretrained writes)
        self.model = TV2TVModel(replace(cfg, sampling_steps=student_steps, guidance=1.0))
        self.model.load_state_dict(world.model.state_dict())
        self.batch_size = batch_size
        g = torch.Generator().manual_seed(10_000 + seed)  # held-out examples, fixed
        self.held = [_examples(held, torch.randint(len(held), (batch_size,), generator=g).tolist(), self.noise(g))
                     for _ in range(eval_batches)]

    def noise(self, gen, rows=slice(None)):
        return torch.randn(self.batch_size, *self.noise_shape, generator=gen)[rows]

    def loss(self, net, step, gen, rows):
        idx = torch.randint(len(self.train), (self.batch_size,), generator=gen)[rows].tolist()
        ex = _examples(self.train, idx, self.noise(gen, rows).to(self.device))
        return distill_loss(self.sampler, net, **ex, student_steps=self.steps), {}

    def config(self):
        return {"student_steps": self.steps}

    def evaluate(self, weights, step):
        from model import precision

        with torch.no_grad(), precision.autocast(self.device, self.dtype):
            loss = sum(distill_loss(self.sampler, weights, **self._on_device(ex), student_steps=self.steps).item()
                       for ex in self.held)
        return {"heldout_loss": round(loss / len(self.held), 6)}

    def teacher_few_steps(self) -> float:
        """The teacher itself with the student's step count: the error distillation must beat."""
        from model import precision

        errs = []
        with torch.no_grad(), precision.autocast(self.device, self.dtype):
            for ex in map(self._on_device, self.held):
                full, _ = teacher_chunk(self.sampler, **ex)
                few, _ = teacher_chunk(self.sampler, **ex, steps=self.steps)
                errs.append(torch.nn.functional.mse_loss(few.float(), full.float()).item())
        return sum(errs) / len(errs)

    def _on_device(self, ex):
        return {**ex, "noise": ex["noise"].to(self.device)}


def run_distill(checkpoint, data, out, student_steps: int = 2, args: TrainArgs = DISTILL_ARGS, resume: bool = False,
                progress: bool = True, eval_batches: int = 4) -> dict:
    """Distil the world model in `checkpoint` (default: the shipped one) on recording `data` into OUT."""
    from ..data.training_data import LatentWindows
    from ..games import DEFAULT_GAME
    from ..world import DEFAULT_CHECKPOINT, WorldModel

    out = Path(out)
    if find_checkpoint(out / "student") is not None and not resume:
        raise UserError(f"{out} already holds a distillation run; pass --resume to continue it or choose another --out")
    if student_steps < 1:
        raise UserError(f"--student-steps must be at least 1, not {student_steps}")
    world = WorldModel(checkpoint or DEFAULT_CHECKPOINT[DEFAULT_GAME], game=None, device=args.device,
                       precision=args.precision)
    for p in world.model.parameters():
        p.requires_grad_(False)
    window = world.sampler.context_chunks + 1  # the context the env keeps, and the chunk to draw
    commands = world.model.config.command_dim > 0
    train = LatentWindows(data, world.paths.vae, world.tokenizer, window, "train", progress=progress,
                          commands=commands, encoder=world.encoder)
    held = LatentWindows(data, world.paths.vae, world.tokenizer, window, "heldout", commands=commands,
                         encoder=world.encoder)
    task = DistillTask(world, train, held, student_steps, args.batch_size, eval_batches, args.seed)
    task.device, task.dtype = world.device, world.dtype
    task.model.to(world.device)
    if find_checkpoint(out / "student") is None:  # where the run starts: the student is the teacher
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "metrics.jsonl", "a") as log:
            log.write(json.dumps({"step": 0, **task.evaluate(task.model, 0),
                                  "teacher_few_steps_loss": round(task.teacher_few_steps(), 6),
                                  "student_steps": student_steps, "teacher_steps": world.sampler.steps,
                                  "guidance": world.sampler.guidance}) + "\n")
    r = fit(task, replace(args, device=str(world.device)), out / "student", out / "metrics.jsonl", resume=resume,
            progress=progress)
    return {"out": str(out), "step": r["step"], "elapsed_s": round(r["elapsed_s"], 1),
            "finished": r["step"] >= args.max_steps, "heldout_loss": r.get("heldout_loss")}
