"""`tv2tv distill`: teach a copy of a world model to draw a chunk in a few Euler steps without
guidance, what the model draws in its full steps with guidance (model/distill.py).

    tv2tv distill --checkpoint checkpoints/doom-small --data data/doom --out runs/distill-2 \
        [--student-steps 2] [--max-steps 2000] [--batch-size 16] [--lr 1e-4] [--resume]

Examples are real windows of the recording's train split: `context_chunks` chunks of context
and the next chunk's recorded command, with noise drawn from (seed, step), so `--resume`
continues exactly. Writes OUT/student/ (the student: config.json + model.safetensors, its
`sampling_steps` and `guidance` = 1 in its config), OUT/distill_state.pt (weights, optimizer,
step; both written atomically every two minutes and on exit) and OUT/metrics.jsonl. Every
`--eval-every` steps it reports the held-out loss beside the teacher's own few-step loss (the
teacher drawing with the student's step count and its guidance: what distillation must beat).
Use the student with `WorldModel(..., distilled=OUT/student)` (the envs' `distilled=`), or
`tv2tv bench --distilled`, `tv2tv speed --distilled`.
"""
from __future__ import annotations

import json
import math
import signal
import time
from dataclasses import replace
from pathlib import Path

import torch

STATE_FILE = "distill_state.pt"
SAVE_EVERY_S = 120


def add_commands(sub):
    d = sub.add_parser("distill", help="distil the sampler: a few Euler steps without guidance",
                       description=__doc__.split("\n\n")[0])
    d.add_argument("--checkpoint", default=None, help="the teacher (default: the shipped model)")
    d.add_argument("--data", required=True, help="recording with a latent cache for the checkpoint's VAE")
    d.add_argument("--out", required=True, help="distillation run directory")
    d.add_argument("--student-steps", type=int, default=2, help="Euler steps the student draws in (default 2)")
    d.add_argument("--max-steps", type=int, default=2000)
    d.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this long")
    d.add_argument("--batch-size", type=int, default=16)
    d.add_argument("--lr", type=float, default=1e-4, help="peak learning rate (50 warm-up steps, cosine to 10%%)")
    d.add_argument("--eval-every", type=int, default=200)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--device", default="auto")
    d.add_argument("--resume", action="store_true", help="continue the run in --out")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=cmd_distill)


def cmd_distill(a):
    info = run_distill(a.checkpoint, a.data, a.out, a.student_steps, a.max_steps, a.max_minutes, a.batch_size, a.lr,
                       a.eval_every, a.seed, a.device, a.resume, progress=not a.quiet)
    print(json.dumps(info))
    return 0


def _examples(windows, rows, noise):
    """One batch of distillation examples from windows `rows`: context, command, noise."""
    b = windows.get(rows)
    texts = b["texts"]
    commands = [c[-1] for c in b["commands"]] if "commands" in b else None
    return {"context_latents": b["latents"][:, :-1], "context_texts": [t[:-1] for t in texts],
            "texts": [t[-1] for t in texts], "commands": commands, "noise": noise}


def run_distill(checkpoint, data, out, student_steps: int = 2, max_steps: int = 2000, max_minutes=None,
                batch_size: int = 16, lr: float = 1e-4, eval_every: int = 200, seed: int = 0, device: str = "auto",
                resume: bool = False, progress: bool = True, eval_batches: int = 4) -> dict:
    from tqdm import tqdm

    from model import precision
    from model.atomic import atomic_dir
    from model.distill import distill_loss, teacher_chunk
    from model.mot import TV2TVModel

    from ..data.training_data import LatentWindows
    from ..errors import UserError
    from ..games import DEFAULT_GAME
    from ..world import DEFAULT_CHECKPOINT, WorldModel

    out = Path(out)
    if (out / STATE_FILE).is_file() and not resume:
        raise UserError(f"{out} already holds a distillation run; pass --resume to continue it or choose another --out")
    if student_steps < 1:
        raise UserError(f"--student-steps must be at least 1, not {student_steps}")
    world = WorldModel(checkpoint or DEFAULT_CHECKPOINT[DEFAULT_GAME], game=None, device=device)
    teacher, sampler = world.model, world.sampler
    for p in teacher.parameters():
        p.requires_grad_(False)
    cfg = teacher.config
    window = sampler.context_chunks + 1  # the context the env keeps, and the chunk to draw
    commands = cfg.command_dim > 0
    train = LatentWindows(data, world.paths.vae, world.tokenizer, window, "train", progress=progress,
                          commands=commands, encoder=world.encoder)
    held = LatentWindows(data, world.paths.vae, world.tokenizer, window, "heldout", commands=commands,
                         encoder=world.encoder)
    # a copy of the teacher whose config says how it samples (what save_pretrained writes)
    student = TV2TVModel(replace(cfg, sampling_steps=student_steps, guidance=1.0)).to(world.device)
    student.load_state_dict(teacher.state_dict())
    opt = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.0)
    step, elapsed = 0, 0.0
    if resume and (out / STATE_FILE).is_file():
        state = torch.load(out / STATE_FILE, map_location=world.device)
        student.load_state_dict(state["student"])
        opt.load_state_dict(state["opt"])
        step, elapsed = state["step"], state["elapsed"]
    n, P = cfg.tokens_per_chunk, cfg.patch_dim

    def noise_of(gen, B):
        return torch.randn(B, n, P, generator=gen).to(world.device)

    def loss_of(model_student, ex):
        with precision.autocast(world.device, world.dtype):
            return distill_loss(sampler, model_student, **ex, student_steps=student_steps)

    # held-out examples, fixed; and the teacher's own few-step error on them (the bar to beat)
    g = torch.Generator().manual_seed(10_000 + seed)
    held_ex = [_examples(held, torch.randint(len(held), (batch_size,), generator=g).tolist(), noise_of(g, batch_size))
               for _ in range(eval_batches)]

    def evaluate(model_student):
        with torch.no_grad():
            return sum(loss_of(model_student, ex).item() for ex in held_ex) / len(held_ex)

    def teacher_few_steps():  # the teacher itself with the student's step count
        errs = []
        with precision.autocast(world.device, world.dtype):
            for ex in held_ex:
                full, _ = teacher_chunk(sampler, **ex)
                few, _ = teacher_chunk(sampler, **ex, steps=student_steps)
                errs.append(torch.nn.functional.mse_loss(few.float(), full.float()).item())
        return sum(errs) / len(errs)

    out.mkdir(parents=True, exist_ok=True)
    metrics = open(out / "metrics.jsonl", "a")

    def log(row):
        metrics.write(json.dumps(row) + "\n")
        metrics.flush()

    if step == 0:
        log({"step": 0, "heldout_loss": round(evaluate(student), 6),
             "teacher_few_steps_loss": round(teacher_few_steps(), 6), "student_steps": student_steps,
             "teacher_steps": sampler.steps, "guidance": sampler.guidance})

    def save():
        with atomic_dir(out / "student") as tmp:
            student.save_pretrained(tmp)
        tmp = out / (STATE_FILE + ".tmp")
        torch.save({"student": student.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": elapsed}, tmp)
        tmp.replace(out / STATE_FILE)

    stop = {"signal": None}

    def on_signal(sig, _frame):
        stop["signal"] = sig

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    t_start, last_save = time.perf_counter() - elapsed, time.perf_counter()
    bar = tqdm(total=max_steps, initial=step, disable=not progress, desc="distill")
    try:
        while step < max_steps and stop["signal"] is None:
            if max_minutes is not None and time.perf_counter() - t_start > 60 * max_minutes:
                break
            gen = torch.Generator().manual_seed(seed * 1_000_003 + step)
            ex = _examples(train, torch.randint(len(train), (batch_size,), generator=gen).tolist(),
                           noise_of(gen, batch_size))
            warm = min(1.0, (step + 1) / 50)
            lr_now = lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / max_steps)))
            for group in opt.param_groups:
                group["lr"] = lr_now
            loss = loss_of(student, ex)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
            opt.step()
            step += 1
            elapsed = time.perf_counter() - t_start
            bar.update(1)
            if step % 10 == 0:
                log({"step": step, "loss": round(loss.item(), 6), "lr": lr_now, "grad_norm": round(float(grad_norm), 4),
                     "elapsed_s": round(elapsed, 1)})
            if step % eval_every == 0 or step == max_steps:
                log({"step": step, "heldout_loss": round(evaluate(student), 6)})
            if time.perf_counter() - last_save > SAVE_EVERY_S:
                save()
                last_save = time.perf_counter()
    finally:
        bar.close()
        save()
        metrics.close()
        for s, h in old.items():
            signal.signal(s, h)
    return {"out": str(out), "step": step, "elapsed_s": round(elapsed, 1), "finished": step >= max_steps}
