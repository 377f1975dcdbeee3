"""Start contexts: a few chunks of real recorded play that an env episode starts from.

A world model cannot start from nothing: `reset` hands it a short piece of real play
(latents and text of `chunks` consecutive chunks) and it continues from there. The
contexts ship next to the weights (`contexts.npz` in a checkpoint directory), taken from
held-out episodes, so a user needs neither the dataset nor the engine to play.

    latents (N, K, F, C, h, w) float16   normalised VAE latents of the K context chunks
    frames  (N, F, H, W, 3) uint8        the real frames of the last context chunk
    texts   (N, K) str                   the recorded text of each context chunk
    source  (N,) str                     "episode_file:first_chunk", where it came from
"""
from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.atomic import atomic_file

from ..errors import UserError
from .dataset import iter_episodes, log, read_meta
from .latents import cache_dir, read_latent_episode

CONTEXT_FILE = "contexts.npz"
CONTEXT_KEYS = ("latents", "frames", "texts", "source", "game")


@dataclass
class Contexts:
    latents: np.ndarray
    frames: np.ndarray
    texts: np.ndarray
    source: np.ndarray
    game: str

    def __len__(self):
        return len(self.latents)


def make_contexts(data_dir, vae_dir, chunks: int = 4, per_episode: int = 2, max_contexts: int = 48,
                  seed: int = 0, split: str | None = None) -> Contexts:
    """Contexts from held-out episodes (`split` None: held-out, or training ones where there
    are none; or "heldout", "train", "all"): each episode's start and `per_episode - 1` random
    later points (a game in progress). Needs the latent cache of `vae_dir` (`tv2tv encode`).
    Many starts from training episodes are what RL in imagination wants (DIAMOND starts
    each imagined rollout from a real observation)."""
    data_dir = Path(data_dir)
    meta = read_meta(data_dir)
    cache = cache_dir(data_dir, vae_dir)
    rng = np.random.default_rng(seed)
    lat, frames, texts, source = [], [], [], []
    for part in ([split] if split else ["heldout", "train"]):  # held-out first; tiny datasets may have none
        for path, ep in iter_episodes(data_dir, part):
            if len(ep) < chunks:
                continue
            try:
                le = read_latent_episode(data_dir, cache, path, meta)
            except UserError:  # not encoded yet (an interrupted `tv2tv encode`): as training does, use the rest
                log.warning("start contexts: %s has no latents yet and is left out", path.name)
                continue
            starts = [0] + sorted(rng.choice(np.arange(1, len(ep) - chunks + 1), size=min(per_episode - 1, len(ep) - chunks),
                                             replace=False).tolist())
            for s in starts:
                lat.append(le.chunks[s:s + chunks].astype(np.float16))
                frames.append(ep.frames[s + chunks - 1])
                texts.append(ep.text[s:s + chunks])
                source.append(f"{path.name}:{s}")
                if len(lat) == max_contexts:
                    break
            if len(lat) == max_contexts:
                break
        if lat:
            break
    if not lat:
        raise UserError(f"{data_dir} has no episode of at least {chunks} chunks to take start contexts from")
    return Contexts(np.stack(lat), np.stack(frames), np.array(texts, dtype=str), np.array(source, dtype=str),
                    meta["game"])


def save_contexts(ctx: Contexts, path) -> Path:
    """Write atomically (a temporary file, then rename)."""
    path = Path(path)
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, latents=ctx.latents, frames=ctx.frames, texts=ctx.texts, source=ctx.source,
                            game=np.array(ctx.game))
    return path


def load_contexts(path) -> Contexts:
    """Read a contexts file; a missing, truncated, foreign or incomplete one is a UserError that
    names the file and the command that makes it again."""
    path = Path(path)
    remake = f"`tv2tv contexts --data DATA --checkpoint {path.parent}` (real chunks the env starts from)"
    if not path.is_file():
        raise UserError(f"no start contexts at {path}; make them with {remake}")
    # np.load would read any other file as a pickle or a lone array: check for the zip first
    if not zipfile.is_zipfile(path):
        raise UserError(f"{path} is not an npz archive of start contexts (truncated, or another kind of file); "
                        f"make it again with {remake}")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in CONTEXT_KEYS if k not in z.files]
            if missing:
                raise UserError(f"{path} lacks {', '.join(missing)} (has {', '.join(z.files) or 'nothing'}); "
                                f"make it again with {remake}")
            ctx = Contexts(z["latents"], z["frames"], z["texts"], z["source"], str(z["game"]))
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:  # a damaged member
        raise UserError(f"{path} is not a readable contexts file ({e}); make it again with {remake}") from None
    if ctx.latents.ndim != 6 or len(ctx.frames) != len(ctx) or ctx.texts.shape != ctx.latents.shape[:2]:
        raise UserError(f"{path} has inconsistent shapes (latents {ctx.latents.shape}, frames {ctx.frames.shape}, "
                        f"texts {ctx.texts.shape}); make it again with {remake}")
    return ctx
