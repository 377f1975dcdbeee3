"""`tv2tv train`: wire a recorded dataset (latent cache + tokenizer) to the training loop.

A run directory holds everything needed to use it:

    RUN/ckpt/model/      EMA weights, config.json + model.safetensors (Hugging Face layout)
    RUN/ckpt/train_state.pt   raw weights, optimizer, EMA, step (for --resume)
    RUN/vae/ RUN/tokenizer/   copies of the VAE and tokenizer the run was trained with
    RUN/contexts.npz     real start contexts from held-out episodes (what the env starts from)
    RUN/action_reader/   the frozen action reader of --action-reader, copied (a resume reads this copy)
    RUN/sampling.json    how training windows are drawn ({"balance_actions": POWER, "mirror": P,
                         "oversample_ends": W})
    RUN/metrics.jsonl    one JSON object per logged step (loss, loss_flow, loss_text, lr, chunks_per_s...)
    RUN/samples/         held-out rollouts drawn as images during training
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from model.atomic import atomic_dir, atomic_file
from model.config import get_config
from model.tokenizer import load_tokenizer, special_ids

from tv2tv_env.conditioning import PLAN_SEPARATOR, condition_batch
from tv2tv_env.data.contexts import CONTEXT_FILE, make_contexts, save_contexts
from tv2tv_env.data.dataset import read_meta
from tv2tv_env.data.training_data import LatentWindows
from tv2tv_env.errors import UserError
from tv2tv_env.games import CARD_FILE
from tv2tv_env.strip import frame_strip
from tv2tv_env.training.args import WORLD_MODEL_ARGS, TrainArgs
from tv2tv_env.training.world_model import run_checkpoint, train_world_model

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "doom-small"
DEFAULT_VAE, DEFAULT_TOKENIZER = SHIPPED / "vae", SHIPPED / "tokenizer"  # the shipped ones, from any directory
# The language prior's recipe (config fields; `overrides` win): a 384-d MiniLM vector per
# chunk; a fifth of the chunks show only that vector, another fifth the vector of a paraphrase.
LANGUAGE_PRIOR = {"command_dim": 384, "text_hide": 0.2, "paraphrase": 0.2}
SAMPLING_FILE = "sampling.json"  # RUN/sampling.json: how training windows are drawn (--balance-actions)


def _fit_config_to_data(vae_dir, cfg, meta):
    """Latent shape and frames per chunk come from the VAE and the dataset, not the config name."""
    path = Path(vae_dir) / "config.json"
    if not path.exists():
        raise UserError(f"no VAE at {vae_dir} (config.json missing); train one with `tv2tv train-vae`")
    vc = json.loads(path.read_text())
    factor = 2 ** (len(vc["block_out_channels"]) - 1)
    want = dict(latent_channels=vc["latent_channels"], latent_size=meta["height"] // factor,
                frames_per_chunk=meta["frames_per_chunk"])
    return replace(cfg, **want)


def make_sampler_strip(run: Path, vae_dir, held: LatentWindows, special: dict, captions: list[str], command_fn=None):
    """A callback drawing one held-out rollout: real and generated chunks, same commands."""
    from diffusers import AutoencoderKL

    from model.sampler import StreamingSampler
    from model.vae import decode

    vae = AutoencoderKL.from_pretrained(vae_dir, torch_dtype=torch.float32, low_cpu_mem_usage=False).eval()
    batch = held.get([0])

    def sample(model, step):
        K = batch["latents"].shape[1]
        ctx = max(1, model.config.first_target_chunk)
        s = StreamingSampler(model, special, command_fn=command_fn)
        s.reset(batch["latents"][:, :ctx], [batch["texts"][0][:ctx]])
        gen = [torch.Generator().manual_seed(0)]
        fake = [s.step([batch["texts"][0][k]], gen).latents[0].cpu() for k in range(ctx, K)]
        rows, texts = [], []
        for k in range(K - ctx):
            rows += [decode(vae, batch["latents"][0, ctx + k]), decode(vae, fake[k])]
            texts += [f"real: {captions[ctx + k]}", "generated from the same text"]
        img = frame_strip(torch.stack(rows).numpy(), texts, title=f"step {step}: held-out rollout")
        (run / "samples").mkdir(exist_ok=True)
        img.save(run / "samples" / f"step_{step:06d}.png")

    return sample


@dataclass
class WorldRecipe:
    """What a world model is trained as and on, beside the loop's settings (TrainArgs)."""
    config: str = "small"  # tiny, small, base, or a JSON file
    conditioning: str = "text"  # text (TV2TV); prompt (T2V), plan (Think2V), action_id: the bench's baselines
    vae: str | None = None  # default: the shipped one
    tokenizer: str | None = None  # default: the shipped one
    balance_actions: float = 0.0  # > 0: windows with rare actions drawn more (data/training_data.py)
    mirror: float = 0.0  # > 0: that share of windows mirrored left-right (needs `tv2tv encode --mirror`)
    oversample_ends: float = 1.0  # > 1: windows holding a real episode end drawn that many times as often
    language_prior: bool = True  # TV2TV only: each command also as a frozen sentence vector (LANGUAGE_PRIOR)
    samples: bool = True  # draw held-out rollouts into RUN/samples while training
    init_from: str | None = None  # exported weights to continue from when the run has no checkpoint
    overrides: dict | None = None  # config fields to change (e.g. {"clean_flip": 0.1, "loss_action": 0.1})
    action_reader: str | None = None  # a trained action reader (`tv2tv train-action-reader`): its
    # cross-entropy on the predicted clean chunks joins the loss with weight config.loss_action


def run_training(data, out, recipe: WorldRecipe = WorldRecipe(), args: TrainArgs = WORLD_MODEL_ARGS,
                 resume: bool = False, progress: bool = True) -> dict:
    """Train a world model on recording `data` into run directory `out`; a `recipe.conditioning`
    other than "text" trains a benchmark baseline (see conditioning.py) with the same data, code and
    budget."""
    r, run = recipe, Path(out)
    vae, tokenizer = r.vae or DEFAULT_VAE, r.tokenizer or DEFAULT_TOKENIZER
    meta = read_meta(data)
    if not Path(tokenizer, "tokenizer.json").exists():
        raise UserError(f"no tokenizer at {tokenizer}; make one with `tv2tv tokenizer --game {meta['game']} --out DIR`")
    tok = load_tokenizer(tokenizer)
    special = special_ids(tok)
    prior = LANGUAGE_PRIOR if (r.language_prior and r.conditioning == "text") else {}
    try:
        cfg = get_config(r.config, vocab_size=len(tok), game=meta["game"], conditioning=r.conditioning,
                         **{**prior, **(r.overrides or {})})
    except (ValueError, TypeError) as e:
        raise UserError(str(e)) from None
    cfg = _fit_config_to_data(vae, cfg, meta)
    reader = _action_reader(run, r.action_reader, cfg, resume, len(meta["action_names"]))
    if run_checkpoint(run) is not None and not resume:
        raise UserError(f"{run} already holds a checkpoint; pass --resume to continue it or choose another --out")
    # how windows are drawn is part of the run: a resume with another --balance-actions would not be exact
    sampling = run / SAMPLING_FILE
    drawn = {"balance_actions": r.balance_actions, "mirror": r.mirror, "oversample_ends": r.oversample_ends}
    if resume and sampling.is_file():
        # runs before --mirror and --oversample-ends had neither
        was = {"mirror": 0.0, "oversample_ends": 1.0, **json.loads(sampling.read_text())}
        for key, value in drawn.items():
            if was[key] != value:
                flag = "--" + key.replace("_", "-")
                raise UserError(f"{run} was trained with {flag} {was[key]}; resume it with the same value")
    rank = int(os.environ.get("RANK", 0))
    if "RANK" in os.environ and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and args.device != "cpu" else "gloo"
        torch.distributed.init_process_group(backend)
    commands = cfg.command_dim > 0
    train_set = LatentWindows(data, vae, tok, cfg.window_chunks, "train", progress=progress and rank == 0,
                              commands=commands, mirror=r.mirror > 0)
    held = LatentWindows(data, vae, tok, cfg.window_chunks, "heldout", commands=commands)
    if rank == 0:
        _prepare_run(run, data, vae, tokenizer, drawn)
    sep = tok.encode(PLAN_SEPARATOR, add_special_tokens=False)
    eval_batches = [condition_batch(b, r.conditioning, sep) for b in held.fixed_batches(min(args.batch_size, 32), 4)]
    batch_fn = train_set.batch_fn(args.batch_size, args.seed, balance=r.balance_actions, text_hide=cfg.text_hide,
                                  paraphrase=cfg.paraphrase, mirror=r.mirror, ends=r.oversample_ends)
    if r.conditioning != "text":
        batch_fn = lambda step, f=batch_fn: condition_batch(f(step), r.conditioning, sep)  # noqa: E731
    sample_fn = None
    if r.samples and rank == 0 and r.conditioning == "text":
        e, s = held.index[0]
        captions = [tok.decode(t) for t in held.texts[e][s:s + cfg.window_chunks]]
        from model.command_encoder import token_command_fn

        command_fn = token_command_fn(tok) if cfg.command_dim else None
        sample_fn = make_sampler_strip(run, vae, held, special, captions, command_fn)
    result = train_world_model(cfg, batch_fn, run, special, args, resume=resume, init_from=r.init_from,
                               eval_batches=eval_batches, sample_fn=sample_fn, progress=progress, action_reader=reader)
    result.update(train_windows=len(train_set), heldout_windows=len(held), config=r.config,
                  conditioning=r.conditioning, balance_actions=r.balance_actions, mirror=r.mirror,
                  oversample_ends=r.oversample_ends,
                  language_prior=bool(cfg.command_dim))
    return result


def _action_reader(run: Path, source, cfg, resume: bool, n_actions: int):
    """The frozen reader of the action-consistency loss, or None. A run keeps its own copy
    (RUN/action_reader), so that a resume reads the reader it started with."""
    from tv2tv_env.training.action_reader import load_action_reader

    kept = run / "action_reader"
    if resume and kept.is_dir():
        if source and Path(source).resolve() != kept.resolve():
            raise UserError(f"{run} trains with its own copy of the action reader ({kept}); resume it without "
                            f"--action-reader")
        if cfg.loss_action <= 0:
            raise UserError(f"{run} was trained with an action reader; resume it with the same --loss-action")
        source = kept
    if cfg.loss_action <= 0 and cfg.loss_action_power != 1.0:
        raise UserError("--loss-action-power shapes the action loss: give it with --action-reader and --loss-action")
    if (cfg.loss_action > 0) != bool(source):
        raise UserError("--action-reader and --loss-action go together: give both (a reader and a weight > 0) "
                        "or neither")
    if not source:
        return None
    reader = load_action_reader(source)
    if reader.config.n_actions != n_actions:
        raise UserError(f"the action reader at {source} reads {reader.config.n_actions} actions; this recording "
                        f"has {n_actions}: train one on this game's recording")
    if Path(source).resolve() != kept.resolve():
        run.mkdir(parents=True, exist_ok=True)
        with atomic_dir(kept) as tmp:
            reader.save_pretrained(tmp)
    return reader


def _prepare_run(run: Path, data, vae, tokenizer, drawn: dict):
    """What a run directory needs to be a playable checkpoint besides its weights."""
    run.mkdir(parents=True, exist_ok=True)
    (run / SAMPLING_FILE).write_text(json.dumps(drawn))
    for src, name in [(vae, "vae"), (tokenizer, "tokenizer")]:
        if not (run / name).exists():
            shutil.copytree(src, run / name)
    card = read_meta(data).get("card")
    if card is not None:  # a recorded Gymnasium env: the world carries its words (games/gym_card.py)
        with atomic_file(run / CARD_FILE) as tmp:
            tmp.write_text(json.dumps(card, indent=1))
    if not (run / CONTEXT_FILE).exists():  # real starts for the env: the run is a playable checkpoint
        save_contexts(make_contexts(data, vae), run / CONTEXT_FILE)
