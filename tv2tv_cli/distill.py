"""`tv2tv distill`: teach a copy of a world model to draw a chunk in a few Euler steps without
guidance, what the model draws in its full steps with guidance (model/distill.py; the task is
tv2tv_env/training/distill.py).

    tv2tv distill --checkpoint checkpoints/doom-small --data data/doom --out runs/distill-2 \
        [--student-steps 2] [--max-steps 2000] [--batch-size 16] [--lr 1e-4] [--resume]

Writes OUT/student/ (the student: config.json + model.safetensors, its `sampling_steps` and
`guidance` = 1 in its config, and train_state.pt for --resume) and OUT/metrics.jsonl (every
`--eval-every` steps the held-out loss beside the teacher's own few-step loss: what
distillation must beat). Use the student with `WorldModel(..., distilled=OUT/student)` (the
envs' `distilled=`), or `tv2tv bench --distilled`, `tv2tv speed --distilled`.
"""
from __future__ import annotations

import json


def add_commands(sub):
    from tv2tv_env.training.args import DISTILL_ARGS, add_train_flags

    d = sub.add_parser("distill", help="distil the sampler: a few Euler steps without guidance",
                       description=__doc__.split("\n\n")[0])
    d.add_argument("--checkpoint", default=None, help="the teacher (default: the shipped model)")
    d.add_argument("--data", required=True, help="recording with a latent cache for the checkpoint's VAE")
    d.add_argument("--out", required=True, help="distillation run directory")
    d.add_argument("--student-steps", type=int, default=2, help="Euler steps the student draws in (default 2)")
    add_train_flags(d, DISTILL_ARGS)
    d.add_argument("--resume", action="store_true", help="continue the run in --out")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=cmd_distill)


def cmd_distill(a):
    from tv2tv_env.training.args import DISTILL_ARGS, train_args_from
    from tv2tv_env.training.distill import run_distill

    info = run_distill(a.checkpoint, a.data, a.out, a.student_steps, train_args_from(a, DISTILL_ARGS),
                       resume=a.resume, progress=not a.quiet)
    print(json.dumps(info))
    return 0
