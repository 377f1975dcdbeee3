"""`tv2tv train-vae`, `encode` and `tokenizer`: what a world model is trained on, made from a
recording (the frame VAE, the latent cache of every frame, the text tokenizer)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from tv2tv_env.errors import UserError
from tv2tv_env.games import CARDS

KNOWN_GAMES = ", ".join(CARDS)



def add_commands(sub):
    t = sub.add_parser("train-vae", help="train the frame VAE on a recorded dataset",
                       description="Train the frame VAE (diffusers AutoencoderKL) on recorded frames, from scratch or from --init; "
                       "writes OUT (config.json + safetensors) and OUT.metrics.jsonl; reports held-out PSNR.")
    t.add_argument("--data", required=True, help="dataset directory from `tv2tv record`")
    t.add_argument("--out", required=True, help="output directory for the VAE")
    from tv2tv_env.training.args import VAE_ARGS, add_train_flags

    add_train_flags(t, VAE_ARGS)
    t.add_argument("--latent-channels", type=int, default=8)
    t.add_argument("--init", default=None, metavar="DIR",
                   help="start from this VAE (its weights and shape; --latent-channels is then ignored), e.g. the "
                        "game's VAE before its recording changed; a lower --lr (3e-4) suits fine-tuning")
    t.add_argument("--max-frames", type=int, default=None, help="use at most this many training frames")
    t.add_argument("--resume", action="store_true", help="continue a stopped run from OUT (its train_state.pt)")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_train_vae)
    _add_latent_trainers(sub)

    e = sub.add_parser("encode", help="encode every recorded frame with a trained VAE (the latent cache)",
                       description="Encode every frame of a dataset once with a trained VAE and keep the latents in "
                       "DATA/latents/<key>/ (key: a hash of the VAE's files). Episodes already cached are skipped.")
    e.add_argument("--data", required=True, help="dataset directory from `tv2tv record`")
    e.add_argument("--vae", required=True, help="VAE directory from `tv2tv train-vae`")
    e.add_argument("--batch", type=int, default=None,
                   help="frames per forward pass (default 16 on the CPU, where it is fastest; 256 on a GPU)")
    e.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda")
    e.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"],
                   help="auto: bf16 only where the device runs it natively")
    e.add_argument("--mirror", action="store_true",
                   help="encode the frames flipped left-right instead, into DATA/latents/<key>-mirror/, for "
                        "`tv2tv train --mirror` (games whose card says they are mirror-symmetric: Doom)")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=cmd_encode)

    k = sub.add_parser("tokenizer", help="train the text tokenizer (byte-level BPE) on the describer's text",
                       description="Train a byte-level BPE on every phrasing the game's describer can write (plus the "
                       "recorded texts of --data) and save it as a Hugging Face fast tokenizer in OUT.")
    k.add_argument("--game", default=None, help=f"whose describer: {KNOWN_GAMES} (default: --data's game)")
    k.add_argument("--out", required=True, help="output directory (tokenizer.json, tokenizer_config.json)")
    k.add_argument("--data", default=None, help="also train on the texts of this recorded dataset")
    k.add_argument("--vocab-size", type=int, default=512)
    k.set_defaults(func=cmd_tokenizer)


def _add_latent_trainers(sub):
    """The small models trained on a recording's latent cache beside the world model: the tiny
    decoder and the action reader."""
    from tv2tv_env.training.args import ACTION_READER_ARGS, TINY_DECODER_ARGS, add_train_flags

    d = sub.add_parser("train-tiny-decoder", help="distil a checkpoint's VAE decoder into a tiny fast one",
                       description="Train a tiny frame decoder (model/tiny_decoder.py) on the cached latents of DATA's "
                       "train split to draw what CHECKPOINT's VAE decoder draws (and the real frames); writes OUT "
                       "(default CHECKPOINT/tiny_decoder, which the envs then decode with) and reports its PSNR "
                       "against the full decoder and the real frames on held-out latents.")
    d.add_argument("--checkpoint", default=None, help="checkpoint or run directory: its vae/ is the teacher and "
                   "CHECKPOINT/tiny_decoder the default --out")
    d.add_argument("--vae", default=None, help="or the teacher VAE directory itself (then --out is needed)")
    d.add_argument("--data", required=True, help="recording with a latent cache for that VAE (`tv2tv encode`)")
    d.add_argument("--out", default=None, help="output directory (default CHECKPOINT/tiny_decoder)")
    d.add_argument("--max-frames", type=int, default=32768, help="training frames held in memory (default 32768)")
    d.add_argument("--width", type=int, default=128, help="channels at the latent's resolution (default 128)")
    d.add_argument("--blocks", type=int, default=2, help="residual blocks there (default 2)")
    add_train_flags(d, TINY_DECODER_ARGS)
    d.add_argument("--resume", action="store_true", help="continue a stopped run from OUT")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=cmd_train_tiny_decoder)

    r = sub.add_parser("train-action-reader", help="train an action reader on latents (for `tv2tv train "
                       "--action-reader`)",
                       description="Train an inverse-dynamics model on the cached latents of DATA's train split "
                       "(model/action_reader.py): which action turned one chunk into the next. `tv2tv train "
                       "--action-reader OUT --loss-action W` then adds its cross-entropy on the world model's "
                       "predicted clean chunks to the loss. Writes OUT and reports held-out accuracy per action.")
    r.add_argument("--data", required=True, help="recording with a latent cache for the VAE (`tv2tv encode`)")
    r.add_argument("--out", required=True, help="output directory")
    r.add_argument("--vae", default=None, help="VAE directory (default: the shipped checkpoints/doom-small/vae)")
    r.add_argument("--tokenizer", default=None, help="tokenizer directory (default: the shipped one)")
    r.add_argument("--width", type=int, default=128, help="channels of its convolutions (default 128)")
    r.add_argument("--input-noise", type=float, default=0.0, metavar="S",
                   help="train on pairs with Gaussian noise of a standard deviation drawn from [0, S] added "
                        "(default 0): smoother gradients for the world model, which it reads rough predictions of")
    add_train_flags(r, ACTION_READER_ARGS)
    r.add_argument("--resume", action="store_true", help="continue a stopped run from OUT")
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(func=cmd_train_action_reader)

def cmd_train_vae(a):
    import torch

    from model.vae import VAEConfig
    from tv2tv_env.data.dataset import load_frames, read_meta
    from tv2tv_env.training.args import VAE_ARGS, train_args_from
    from tv2tv_env.training.vae import check_init, train_vae

    meta = read_meta(a.data)
    if a.init:  # before minutes of loading frames
        check_init(a.init)
    train = torch.from_numpy(load_frames(a.data, "train", a.max_frames))
    held = torch.from_numpy(load_frames(a.data, "heldout", 4096))
    print(f"train-vae: {len(train)} train frames, {len(held)} held-out frames of {meta['game']}", file=sys.stderr)
    summary = train_vae(train, held, a.out, VAEConfig(latent_channels=a.latent_channels), train_args_from(a, VAE_ARGS),
                        init=a.init, resume=a.resume, progress=not a.quiet)
    summary["data"] = str(a.data)
    summary["game"] = meta["game"]
    print(json.dumps(summary))
    return 0 if not summary["stopped_by_signal"] else 128 + 15


def cmd_train_tiny_decoder(a):
    from tv2tv_env.training.args import TINY_DECODER_ARGS, train_args_from
    from tv2tv_env.training.tiny_decoder import train_tiny_decoder
    from tv2tv_env.world import TINY_DECODER_DIR, resolve_checkpoint

    if (a.checkpoint is None) == (a.vae is None) or (a.vae and not a.out):
        raise UserError("give --checkpoint DIR, or --vae DIR and --out DIR")
    vae = a.vae or resolve_checkpoint(a.checkpoint).vae
    out = a.out or resolve_checkpoint(a.checkpoint).root / TINY_DECODER_DIR
    summary = train_tiny_decoder(vae, a.data, out, train_args_from(a, TINY_DECODER_ARGS),
                                 max_frames=a.max_frames, width=a.width, blocks=a.blocks, resume=a.resume,
                                 progress=not a.quiet)
    print(json.dumps({"out": str(out), **summary}))
    return 0


def cmd_train_action_reader(a):
    from tv2tv_env.training.action_reader import train_action_reader
    from tv2tv_env.training.args import ACTION_READER_ARGS, train_args_from

    from .train_world import DEFAULT_TOKENIZER, DEFAULT_VAE

    summary = train_action_reader(a.data, a.out, a.vae or DEFAULT_VAE, a.tokenizer or DEFAULT_TOKENIZER,
                                  train_args_from(a, ACTION_READER_ARGS), width=a.width, input_noise=a.input_noise,
                                  resume=a.resume,
                                  progress=not a.quiet)
    print(json.dumps({"out": str(a.out), **summary}))
    return 0


def cmd_encode(a):
    from tv2tv_env.data.latents import encode_dataset

    summary = encode_dataset(a.data, a.vae, batch=a.batch, progress=not a.quiet, device=a.device,
                             precision_mode=a.precision, mirror=a.mirror)
    summary["data"] = str(a.data)
    print(json.dumps(summary))
    return 0


def cmd_tokenizer(a):
    import numpy as np

    from model.tokenizer import special_ids, train_tokenizer

    from tv2tv_env.data.dataset import iter_episodes, read_meta
    from tv2tv_env.data.text_corpus import describer_corpus

    recorded = []
    if a.data:
        meta = read_meta(a.data)  # a recorded Gymnasium env's card is known from here on
        a.game = a.game or meta["game"]
        if meta["game"] != a.game:
            raise UserError(f"{a.data} is a {meta['game']} dataset, not {a.game}; pass --game {meta['game']}")
        for _, ep in iter_episodes(a.data, "all", frames=False):
            recorded += ep.text
    if not a.game:
        raise UserError("tokenizer needs --game NAME or --data DIR (whose game it then is)")
    corpus = describer_corpus(a.game)
    tok = train_tokenizer(corpus + recorded, vocab_size=a.vocab_size)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(str(out))
    measured = recorded or corpus  # tokens per chunk text: the recorded texts when given
    counts = np.array([len(ids) for ids in tok(measured, add_special_tokens=False)["input_ids"]])
    print(json.dumps({"out": str(out), "game": a.game, "vocab_size": len(tok), "special_ids": special_ids(tok),
                      "corpus_texts": len(corpus), "recorded_texts": len(recorded),
                      "tokens_per_text": {"of": "recorded" if recorded else "corpus", "mean": round(float(counts.mean()), 2),
                                          "p99": int(np.percentile(counts, 99)), "max": int(counts.max())}}))
    return 0
