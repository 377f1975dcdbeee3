"""The VAE latent cache beside a recorded dataset: every frame encoded once.

Training the world model reads latents, not pixels, so the frame VAE runs over the
dataset once (`tv2tv encode`) and its output is kept next to the episodes:

    DIR/latents/<key>/cache.json        format, VAE path, latent shape, storage dtype
    DIR/latents/<key>/ep_000000.h5      one file per episode, written as *.tmp and renamed

`<key>` is a short hash of the VAE's config.json and weight files, so latents of another
VAE (retrained, recalibrated, different shape) are never reused. `tv2tv encode --mirror` also
fills `DIR/latents/<key>-mirror/`, the same files for the frames flipped left-right, which
`tv2tv train --mirror P` trains on (games/mirror.py). Each episode file holds

    start    (C, h, w)        float16  latent of the episode's start frame
    chunks   (T, F, C, h, w)  float16  latent of every frame of every chunk
    attrs: format, source (episode file name), source_frames (sha256 of the episode's
           start frame and frames, from its checksums), num_chunks

Latents are the normalised posterior means of `model.vae.encode`. An episode whose
frames changed (re-recorded into the same directory) no longer matches `source_frames`
and is encoded again; one that is already cached is skipped, so `encode` can be rerun
after recording more episodes, or after a killed run.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np

from model.atomic import atomic_file

from ..errors import UserError
from ..games.mirror import check_mirror_symmetric
from .dataset import BadEpisode, Episode, episode_paths, iter_window_starts, read_episode, read_meta

CACHE_FORMAT = 1
LATENT_DIR = "latents"
CACHE_META = "cache.json"
KEY_CHARS = 12
MIRROR_SUFFIX = "-mirror"  # the cache of the frames flipped left-right
log = logging.getLogger(__name__)


# --- which VAE ------------------------------------------------------------------------------
def vae_key(vae_dir) -> str:
    """Short hash of a saved VAE (config.json + weight files): names its latent cache."""
    vae_dir = Path(vae_dir)
    config = vae_dir / "config.json"
    weights = sorted(p for p in vae_dir.iterdir() if p.suffix in (".safetensors", ".bin")) if vae_dir.is_dir() else []
    if not config.is_file() or not weights:
        raise UserError(f"no VAE at {vae_dir}: expected config.json and *.safetensors "
                        f"(train one with `tv2tv train-vae`)")
    h = hashlib.sha256()
    for p in [config, *weights]:
        h.update(p.name.encode() + b"\0")
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:KEY_CHARS]


def cache_dir(data_dir, vae_dir_or_key, mirror: bool = False) -> Path:
    """The cache directory for a VAE (a directory holding config.json) or a cache key; with
    `mirror`, that of the frames flipped left-right."""
    p = Path(vae_dir_or_key)
    key = vae_key(p) if (p / "config.json").is_file() else str(vae_dir_or_key)
    return Path(data_dir) / LATENT_DIR / (key + (MIRROR_SUFFIX if mirror else ""))


def _source_signature(path: Path) -> str:
    """sha256 of the episode's start frame and frames, from the checksums it stores."""
    try:
        with h5py.File(path, "r") as f:
            sums = json.loads(f.attrs.get("checksums", "{}"))
    except (OSError, json.JSONDecodeError, TypeError) as e:
        raise BadEpisode(f"unreadable attributes ({e})") from None
    if "frames" not in sums or "start_frame" not in sums:
        raise BadEpisode("no frame checksums stored")
    return hashlib.sha256((sums["start_frame"] + sums["frames"]).encode()).hexdigest()


def _cached_ok(out: Path, signature: str) -> bool:
    if not out.exists():
        return False
    try:
        with h5py.File(out, "r") as f:
            return (f.attrs.get("format") == CACHE_FORMAT and f.attrs.get("source_frames") == signature
                    and f["chunks"].shape[0] == f.attrs.get("num_chunks") and "start" in f)
    except Exception:  # noqa: BLE001 - an unreadable cache file is simply encoded again
        return False


def _write_cached(out: Path, start: np.ndarray, chunks: np.ndarray, source: str, signature: str):
    with atomic_file(out) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("start", data=start.astype(np.float16))
        f.create_dataset("chunks", data=chunks.astype(np.float16))
        f.attrs.update({"format": CACHE_FORMAT, "source": source, "source_frames": signature,
                        "num_chunks": len(chunks)})


# --- encoding -------------------------------------------------------------------------------
# Frames per VAE forward pass. On these 2-core CPUs small batches are faster: 64x64 frames at
# batch 256 make 130 MB activations whose allocation and page faults cost more than the convs
# (measured, bf16: 222 frames/s at 256, 340 at 64, 405-535 at 16, 442 at 8, 356 at 4).
CPU_BATCH, GPU_BATCH = 16, 256


def encode_dataset(data_dir, vae_dir, batch: int | None = None, progress: bool = True, device: str = "cpu",
                   precision_mode: str = "auto", mirror: bool = False) -> dict:
    """Encode every episode not cached yet; return a summary (episodes encoded, already
    cached, skipped as bad, frames encoded, seconds, the cache directory). `batch` defaults
    to CPU_BATCH on the CPU and GPU_BATCH on a GPU. `mirror`: the frames flipped left-right,
    into the mirrored cache (only for a game whose card says it is mirror-symmetric)."""
    import torch
    from diffusers import AutoencoderKL
    from tqdm import tqdm

    from model import precision
    from model.vae import encode

    data_dir, vae_dir = Path(data_dir), Path(vae_dir)
    meta = read_meta(data_dir)
    if mirror:
        check_mirror_symmetric(meta["game"], "`tv2tv encode`")
    key = vae_key(vae_dir)
    out_dir = cache_dir(data_dir, key, mirror)
    out_dir.mkdir(parents=True, exist_ok=True)
    dev = precision.resolve_device(device)
    dtype = precision.autocast_dtype(dev, precision_mode)
    if batch is None:
        batch = CPU_BATCH if dev.type == "cpu" else GPU_BATCH
    vae = AutoencoderKL.from_pretrained(vae_dir, torch_dtype=torch.float32, low_cpu_mem_usage=False).to(dev).eval()
    H, W, F = meta["height"], meta["width"], meta["frames_per_chunk"]
    with torch.no_grad():
        probe = encode(vae, torch.zeros(1, H, W, 3, dtype=torch.uint8))
    latent_shape = list(probe.shape[1:])
    info = {"format": CACHE_FORMAT, "key": key, "vae": str(vae_dir), "latent_shape": latent_shape,
            "storage": "float16", "frames_per_chunk": F, "height": H, "width": W, "mirrored": mirror}
    with atomic_file(out_dir / CACHE_META) as tmp:
        tmp.write_text(json.dumps(info, indent=2))

    done = cached = skipped = frames_done = 0
    t0 = time.perf_counter()
    paths = episode_paths(data_dir)
    bar = tqdm(paths, desc="encode", unit="ep", disable=not progress, file=sys.stderr)
    for path in bar:
        out = out_dir / path.name
        try:
            signature = _source_signature(path)
            if _cached_ok(out, signature):
                cached += 1
                continue
            ep = read_episode(path, meta, verify=False)
        except BadEpisode as e:
            log.warning("skipping bad episode %s: %s", path.name, e)
            skipped += 1
            continue
        frames = np.concatenate([ep.start_frame[None], ep.frames.reshape(-1, H, W, 3)])
        if mirror:
            frames = np.ascontiguousarray(frames[:, :, ::-1])
        zs = []
        with torch.no_grad(), precision.autocast(dev, dtype):
            for i in range(0, len(frames), batch):
                zs.append(encode(vae, torch.from_numpy(frames[i:i + batch])).float().cpu())
        z = torch.cat(zs).numpy()
        _write_cached(out, z[0], z[1:].reshape(len(ep), F, *z.shape[1:]), path.name, signature)
        done += 1
        frames_done += len(frames)
        secs = time.perf_counter() - t0
        bar.set_postfix(frames_per_s=f"{frames_done / max(secs, 1e-9):.0f}")
    bar.close()
    secs = time.perf_counter() - t0
    return {"episodes": done, "cached": cached, "skipped": skipped, "frames": frames_done,
            "seconds": round(secs, 2), "frames_per_second": round(frames_done / secs, 1) if secs > 0 else None,
            "cache": str(out_dir), "key": key, "latent_shape": latent_shape, **precision.describe(dev, dtype)}


def cache_latents(data_dir, vae_dir, batch: int | None = None, progress: bool = True, device: str = "cpu",
                  precision_mode: str = "auto", mirror: bool = False) -> Path:
    """Encode every frame of a dataset with a trained VAE, once; return the cache directory.

    Episodes already cached (for this VAE, with the same frames) are skipped; bad episodes
    are logged and skipped, as `dataset.iter_episodes` does. bf16 autocast is used only
    where `model.precision.autocast_dtype` picks it (`precision_mode`: auto, bf16, fp32).
    """
    return Path(encode_dataset(data_dir, vae_dir, batch, progress, device, precision_mode, mirror)["cache"])


# --- reading --------------------------------------------------------------------------------
@dataclass
class LatentEpisode:
    episode: Episode  # without frames
    start: np.ndarray  # (C, h, w) float16
    chunks: np.ndarray  # (T, F, C, h, w) float16

    def __len__(self):
        return len(self.episode)


def read_latent_episode(data_dir, cache: Path, path: Path, meta: dict | None = None) -> LatentEpisode:
    """One episode's non-frame fields and cached latents. Raises BadEpisode for a bad
    episode file and UserError for a missing or stale cache entry (run `tv2tv encode`)."""
    ep = read_episode(path, meta, verify=False, frames=False)
    out = Path(cache) / path.name
    if not _cached_ok(out, _source_signature(path)):
        why = "has no latents" if not out.exists() else "has stale or unreadable latents"
        raise UserError(f"episode {path.name} of {data_dir} {why} in {cache}; "
                        f"run `tv2tv encode --data {data_dir} --vae VAE_DIR`")
    with h5py.File(out, "r") as f:
        start, chunks = f["start"][()], f["chunks"][()]
    if len(chunks) != len(ep):
        raise UserError(f"{out} holds {len(chunks)} chunks but {path.name} has {len(ep)}; "
                        f"delete {cache} and run `tv2tv encode` again")
    return LatentEpisode(ep, start, chunks)


def iter_latent_windows(data_dir, vae_dir_or_key, window: int, split: str = "train", seed: int = 0,
                        epochs: int | None = 1, shuffle: bool = True) -> Iterator[dict]:
    """`dataset.iter_windows`, with cached latents in place of frames.

    Same episodes, order and window starts as `iter_windows` with the same arguments. Each
    window: latents float32 (window, F, C, h, w), prev float32 (C, h, w) (the latent of the
    frame before the window), text (list), action, buttons, reward, terminated, episode,
    start. `vae_dir_or_key` is the VAE directory or the cache key it hashes to.
    """
    data_dir = Path(data_dir)
    meta = read_meta(data_dir)
    cache = cache_dir(data_dir, vae_dir_or_key)
    if not (cache / CACHE_META).is_file():
        raise UserError(f"no latent cache for VAE {vae_dir_or_key} in {data_dir / LATENT_DIR}; "
                        f"run `tv2tv encode --data {data_dir} --vae VAE_DIR` first")

    def load(path):
        return read_latent_episode(data_dir, cache, path, meta)

    for path, le, s in iter_window_starts(data_dir, window, load, split, seed, epochs, shuffle):
        ep = le.episode
        prev = le.start if s == 0 else le.chunks[s - 1, -1]
        yield {"latents": le.chunks[s:s + window].astype(np.float32), "prev": prev.astype(np.float32),
               "text": ep.text[s:s + window], "action": ep.action[s:s + window],
               "buttons": ep.buttons[s:s + window], "reward": ep.reward[s:s + window],
               "terminated": ep.terminated[s:s + window], "episode": path.name, "start": s}
