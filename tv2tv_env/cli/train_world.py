"""`tv2tv train`: wire a recorded dataset (latent cache + tokenizer) to the training loop.

A run directory holds everything needed to use it:

    RUN/ckpt/model/      EMA weights, config.json + model.safetensors (Hugging Face layout)
    RUN/ckpt/train_state.pt   raw weights, optimizer, EMA, step (for --resume)
    RUN/vae/ RUN/tokenizer/   copies of the VAE and tokenizer the run was trained with
    RUN/contexts.npz     real start contexts from held-out episodes (what the env starts from)
    RUN/sampling.json    how training windows are drawn ({"balance_actions": POWER, "mirror": P})
    RUN/metrics.jsonl    one JSON object per logged step (loss, loss_flow, loss_text, lr, chunks_per_s...)
    RUN/samples/         held-out rollouts drawn as images during training
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import torch

from model.config import get_config
from model.tokenizer import load_tokenizer, special_ids
from model.train import TrainArgs, find_checkpoint, train

from ..conditioning import PLAN_SEPARATOR, condition_batch
from ..data.contexts import CONTEXT_FILE, make_contexts, save_contexts
from ..data.dataset import read_meta
from ..data.training_data import LatentWindows
from ..errors import UserError
from ..games import CARD_FILE
from ..strip import frame_strip

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / "doom-small"
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


_T = TrainArgs  # the defaults, declared once (model/config.py)


def run_training(data, out, config="small", max_steps=_T.max_steps, max_minutes=_T.max_minutes, resume=False,
                 batch_size=_T.batch_size, lr=_T.lr, grad_accum=_T.grad_accum, vae=DEFAULT_VAE,
                 tokenizer=DEFAULT_TOKENIZER, device=_T.device, eval_every=_T.eval_every, seed=_T.seed, samples=True, progress=True, overrides: dict | None = None,
                 conditioning: str = "text", init_from=None, balance_actions: float = 0.0,
                 language_prior: bool = True, mirror: float = 0.0) -> dict:
    """Train a world model; `conditioning` other than "text" trains a benchmark baseline
    (see conditioning.py) with the same data, code and budget. `init_from`: exported weights
    to continue from when the run has no checkpoint of its own (see model/train.py).
    `balance_actions` > 0 samples windows with rare actions more (data/training_data.py).
    `mirror` > 0: that share of windows mirrored left-right (needs `tv2tv encode --mirror`).
    `language_prior` (TV2TV only): each chunk's command also as a frozen sentence vector
    (model/command_encoder.py), with token hiding and paraphrases (`LANGUAGE_PRIOR`)."""
    run = Path(out)
    vae, tokenizer = vae or DEFAULT_VAE, tokenizer or DEFAULT_TOKENIZER
    meta = read_meta(data)
    if not Path(tokenizer, "tokenizer.json").exists():
        raise UserError(f"no tokenizer at {tokenizer}; make one with `tv2tv tokenizer --game {meta['game']} --out DIR`")
    tok = load_tokenizer(tokenizer)
    special = special_ids(tok)
    prior = LANGUAGE_PRIOR if (language_prior and conditioning == "text") else {}
    try:
        cfg = get_config(config, vocab_size=len(tok), game=meta["game"], conditioning=conditioning,
                         **{**prior, **(overrides or {})})
    except (ValueError, TypeError) as e:
        raise UserError(str(e)) from None
    cfg = _fit_config_to_data(vae, cfg, meta)
    if find_checkpoint(run) is not None and not resume:
        raise UserError(f"{run} already holds a checkpoint; pass --resume to continue it or choose another --out")
    # how windows are drawn is part of the run: a resume with another --balance-actions would not be exact
    sampling, drawn = run / SAMPLING_FILE, {"balance_actions": balance_actions, "mirror": mirror}
    if resume and sampling.is_file():
        was = {"mirror": 0.0, **json.loads(sampling.read_text())}  # runs before --mirror had none
        for key, value in drawn.items():
            if was[key] != value:
                flag = "--" + key.replace("_", "-")
                raise UserError(f"{run} was trained with {flag} {was[key]}; resume it with the same value")
    rank = int(os.environ.get("RANK", 0))
    if "RANK" in os.environ and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and device != "cpu" else "gloo"
        torch.distributed.init_process_group(backend)
    commands = cfg.command_dim > 0
    train_set = LatentWindows(data, vae, tok, cfg.window_chunks, "train", progress=progress and rank == 0,
                              commands=commands, mirror=mirror > 0)
    held = LatentWindows(data, vae, tok, cfg.window_chunks, "heldout", commands=commands)
    if rank == 0:
        run.mkdir(parents=True, exist_ok=True)
        sampling.write_text(json.dumps(drawn))
        for src, name in [(vae, "vae"), (tokenizer, "tokenizer")]:
            if not (run / name).exists():
                shutil.copytree(src, run / name)
        card = read_meta(data).get("card")
        if card is not None:  # a recorded Gymnasium env: the world carries its words (games/gym_card.py)
            tmp = run / (CARD_FILE + ".tmp")
            tmp.write_text(json.dumps(card, indent=1))
            os.replace(tmp, run / CARD_FILE)
        if not (run / CONTEXT_FILE).exists():  # real starts for the env: the run is a playable checkpoint
            save_contexts(make_contexts(data, vae), run / CONTEXT_FILE)
    sep = tok.encode(PLAN_SEPARATOR, add_special_tokens=False)
    eval_batches = [condition_batch(b, conditioning, sep) for b in held.fixed_batches(min(batch_size, 32), 4)]
    batch_fn = train_set.batch_fn(batch_size, seed, balance=balance_actions, text_hide=cfg.text_hide,
                                  paraphrase=cfg.paraphrase, mirror=mirror)
    if conditioning != "text":
        batch_fn = lambda step, f=batch_fn: condition_batch(f(step), conditioning, sep)  # noqa: E731
    sample_fn = None
    if samples and rank == 0 and conditioning == "text":
        e, s = held.index[0]
        captions = [tok.decode(t) for t in held.texts[e][s:s + cfg.window_chunks]]
        from model.command_encoder import token_command_fn

        command_fn = token_command_fn(tok) if cfg.command_dim else None
        sample_fn = make_sampler_strip(run, vae, held, special, captions, command_fn)
    args = TrainArgs(max_steps=max_steps, max_minutes=max_minutes, batch_size=batch_size, grad_accum=grad_accum,
                     lr=lr, eval_every=eval_every, seed=seed, device=device,
                     warmup_steps=min(200, max(1, max_steps // 10)))
    try:
        result = train(cfg, batch_fn, run, special, args, resume=resume, init_from=init_from,
                       eval_batches=eval_batches, sample_fn=sample_fn, progress=progress)
    except ValueError as e:  # a checkpoint of another config, a batch size that does not split
        raise UserError(str(e)) from None
    result.update(train_windows=len(train_set), heldout_windows=len(held), config=config, conditioning=conditioning,
                  balance_actions=balance_actions, mirror=mirror, language_prior=bool(cfg.command_dim))
    return result
