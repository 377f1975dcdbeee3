"""`tv2tv train`, `contexts` and `export-weights`: train a world model on a recording (the job
itself is `train_world.run_training`), take real start contexts for a checkpoint, and export a
run's weights for shipping."""
from __future__ import annotations

import json
import os
import signal
import sys


def add_commands(sub):
    tr = sub.add_parser("train", help="train the TV2TV world model on a recorded dataset",
                        description="Train the MoT world model on a dataset's latent cache (run `tv2tv encode` "
                        "first). Writes RUN/ckpt (atomic), RUN/metrics.jsonl and RUN/samples. SIGTERM saves and "
                        "exits; --resume continues exactly. Multi-GPU: torchrun --nproc-per-node N -m tv2tv_cli train ...")
    tr.add_argument("--data", required=True, help="dataset directory (with its latent cache)")
    tr.add_argument("--out", required=True, help="run directory")
    tr.add_argument("--config", default="small", help="tiny, small, base, or a JSON file (default small)")
    from tv2tv_env.training.args import WORLD_MODEL_ARGS, add_train_flags

    add_train_flags(tr, WORLD_MODEL_ARGS, ("max_steps", "max_minutes", "batch_size", "grad_accum", "lr", "eval_every",
                                           "save_every_minutes", "seed", "device", "precision"))
    tr.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    tr.add_argument("--init-from", default=None, metavar="DIR",
                    help="when --out has no checkpoint: continue from weights exported by `tv2tv export-weights` "
                    "(their step from DIR/train_progress.json, a fresh optimizer); for runs spanning machines")
    tr.add_argument("--vae", default=None, help="VAE directory (default: the shipped checkpoints/doom-small/vae)")
    tr.add_argument("--tokenizer", default=None, help="tokenizer directory (default: the shipped one)")
    tr.add_argument("--no-samples", action="store_true", help="do not draw sample rollouts")
    tr.add_argument("--conditioning", default="text", choices=["text", "prompt", "plan", "action_id"],
                    help="text: TV2TV (default); prompt (T2V), plan (Think2V), action_id: the benchmark's baselines")
    tr.add_argument("--balance-actions", type=float, default=0.0, metavar="POWER",
                    help="draw windows with rare actions more: weight (1/action frequency)**POWER, averaged over "
                         "the window's chunks (1: actions about equally often; default 0: uniform epochs)")
    tr.add_argument("--oversample-ends", type=float, default=1.0, metavar="W",
                    help="draw windows that hold a real episode end (a death) W times as often, so the end head "
                         "and the text of dying are seen more (default 1: off)")
    tr.add_argument("--mirror", type=float, default=0.0, metavar="P",
                    help="share of training windows mirrored left-right, frames flipped and 'left'/'right' swapped "
                         "in text and action (games whose card says they are mirror-symmetric: Doom; run `tv2tv "
                         "encode --mirror` first; default 0: off)")
    tr.add_argument("--action-reader", default=None, metavar="DIR",
                    help="a trained action reader (`tv2tv train-action-reader`): the cross-entropy of each target "
                         "chunk's recorded action, read from the model's predicted clean chunk, joins the loss "
                         "(with --loss-action; the run keeps a copy, which --resume reads)")
    _add_config_flags(tr)
    tr.add_argument("--no-language-prior", action="store_true",
                    help="TV2TV without the frozen sentence encoder's command vectors (the model before 2026-12); "
                         "baselines never use it")
    tr.add_argument("--quiet", action="store_true")
    tr.set_defaults(func=cmd_train)

    c = sub.add_parser("contexts", help="take real start contexts for a checkpoint from held-out episodes",
                       description="Write CHECKPOINT/contexts.npz: a few chunks of real play (latents, frames, text) "
                       "from held-out episodes of DATA, which the env starts its episodes from. `tv2tv train` "
                       "writes them into each run; use this for a checkpoint made otherwise.")
    c.add_argument("--data", required=True, help="dataset directory with a latent cache for the checkpoint's VAE")
    c.add_argument("--checkpoint", required=True, help="checkpoint or run directory (its vae/ encodes the frames)")
    c.add_argument("--chunks", type=int, default=4, help="chunks per context (default 4 = the default context size)")
    c.add_argument("--max-contexts", type=int, default=48)
    c.add_argument("--per-episode", type=int, default=2, help="starts per episode: its first chunks and random later "
                   "points (default 2)")
    c.add_argument("--split", default=None, choices=["heldout", "train", "all"],
                   help="episodes to take them from (default: held-out, or training ones where there are none); "
                        "many training starts suit RL in imagination")
    c.add_argument("--out", default=None, help="write here instead of CHECKPOINT/contexts.npz; the env takes it "
                   "with contexts=FILE")
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(func=cmd_contexts)

    x = sub.add_parser("export-weights", help="a run's EMA weights in fp16 for shipping (and for --init-from)",
                       description="Write OUT/config.json + model.safetensors (fp16) from a `tv2tv train` run's last "
                       "checkpoint, and OUT/train_progress.json (step, time, target) that `tv2tv train --init-from "
                       "OUT` continues from on another machine.")
    x.add_argument("run", help="a `tv2tv train` run directory (or a model directory)")
    x.add_argument("out", help="output directory")
    x.set_defaults(func=cmd_export_weights)


# Flags that each override one field of the model's config (model/config.py), by the same name.
CONFIG_FLAGS = ("n_layers", "video_conv", "clean_flip", "own_context", "own_context_steps", "loss_action",
                "loss_action_power")


def _add_config_flags(tr):
    """`tv2tv train`'s CONFIG_FLAGS: model size and training-objective fields."""
    tr.add_argument("--n-layers", type=int, default=None, metavar="N",
                    help="layers of the model instead of the config's; with --init-from from fewer, the trained "
                         "blocks are spread among new ones that start as the identity (model/grow.py)")
    tr.add_argument("--video-conv", type=int, default=None, metavar="C",
                    help="residual 3x3 conv blocks of C channels on each chunk's latent grid around the video tower "
                         "(config video_conv; they start as the identity, so --init-from may add them)")
    tr.add_argument("--clean-flip", type=float, default=0.0, metavar="P",
                    help="the paper's clean-copy flip against exposure bias: chance that a chunk's clean copy, "
                         "which later chunks see, is its noisy copy (default 0: off)")
    tr.add_argument("--own-context", type=float, default=0.0, metavar="P",
                    help="share of training windows in which later chunks see the model's own drafts of the "
                         "chunks before them (drawn without gradient, as the sampler draws) instead of the recorded "
                         "ones, against exposure bias; at 0.5 a step takes about a third longer (default 0: off)")
    tr.add_argument("--own-context-steps", type=int, default=None, metavar="N",
                    help="Euler steps of each own draft (default 3)")
    tr.add_argument("--loss-action", type=float, default=0.0, metavar="W",
                    help="weight of the --action-reader's cross-entropy beside the flow loss's 1 (default 0: off)")
    tr.add_argument("--loss-action-power", type=float, default=None, metavar="P",
                    help="each predicted chunk's cross-entropy is weighted by (1 - flow time) ** P (default 1; "
                         "larger: the loss acts more on the late, fine sampling steps)")


def cmd_train(a):
    from tv2tv_env.training.args import WORLD_MODEL_ARGS, train_args_from

    from .train_world import WorldRecipe, run_training

    recipe = WorldRecipe(config=a.config, conditioning=a.conditioning, vae=a.vae, tokenizer=a.tokenizer,
                         balance_actions=a.balance_actions, mirror=a.mirror, oversample_ends=a.oversample_ends,
                         language_prior=not a.no_language_prior,
                         samples=not a.no_samples, init_from=a.init_from,
                         action_reader=a.action_reader,
                         overrides={k: getattr(a, k) for k in CONFIG_FLAGS if getattr(a, k)} or None)
    result = run_training(a.data, a.out, recipe, train_args_from(a, WORLD_MODEL_ARGS), resume=a.resume,
                          progress=not a.quiet)
    if int(os.environ.get("RANK", 0)) == 0:  # under torchrun, one process reports
        print(json.dumps(result))
    if result["stopped_by_signal"]:  # saved, not finished: scripts must not go on as if it were
        print(f"train: stopped by a signal at step {result['step']}; --resume continues it", file=sys.stderr)
        return 128 + signal.SIGTERM
    return 0


def cmd_export_weights(a):
    from tv2tv_env.training.export import export_weights

    info = export_weights(a.run, a.out)
    print(json.dumps(info))
    return 0


def cmd_contexts(a):
    from tv2tv_env.data.contexts import CONTEXT_FILE, make_contexts, save_contexts
    from tv2tv_env.world import resolve_checkpoint

    paths = resolve_checkpoint(a.checkpoint)
    ctx = make_contexts(a.data, paths.vae, a.chunks, per_episode=a.per_episode, max_contexts=a.max_contexts,
                        seed=a.seed, split=a.split)
    out = save_contexts(ctx, a.out or paths.root / CONTEXT_FILE)
    print(json.dumps({"contexts": len(ctx), "chunks": a.chunks, "game": ctx.game, "out": str(out)}))
    return 0
