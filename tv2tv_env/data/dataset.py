"""Recorded game play on disk: one HDF5 file per episode, plus `dataset.json`.

Layout of a dataset directory (schema version 1, documented in the README):

    DIR/dataset.json              game, frame size, frames_per_chunk, action names, format version
    DIR/episodes/ep_000000.h5     one episode, written to a temporary name and renamed when complete

Each episode file holds, for T chunks of F frames of H x W RGB:

    start_frame  (H, W, 3)     uint8    the frame before the first chunk (reset observation)
    frames       (T, F, H, W, 3) uint8  gzip-compressed, one HDF5 chunk per game chunk, fletcher32
    text         (T,)          utf-8    what the player did and what happened, one line per chunk
    action       (T,)          int16    index into `action_names`
    buttons      (T, B)        uint8    multi-hot over `button_names` (the judge's labels)
    reward       (T,)          float32  summed over the chunk
    terminated   (T,)          bool     the episode ended in this chunk (death)
    events       (T,)          utf-8    JSON of the game events the text was written from
    variables    (T, V)        float32  game variables at the chunk's end (`variable_names`)
    attrs: format_version, game, scenario, seed, episode, split ("train" | "heldout"),
           height, width, frames_per_chunk, num_chunks, truncated, checksums (JSON: sha256 per dataset)

A killed recording leaves at most one `*.h5.tmp` file, which readers ignore.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np

from model.atomic import atomic_file

from ..errors import UserError

FORMAT_VERSION = 1
META_FILE = "dataset.json"
EPISODE_DIR = "episodes"
log = logging.getLogger(__name__)

_STR = h5py.string_dtype("utf-8")
# name -> (dtype, trailing shape from meta); frames and start_frame handled separately
_ARRAYS = ["action", "buttons", "reward", "terminated", "variables"]


@dataclass
class Episode:
    """One recorded episode in memory."""

    start_frame: np.ndarray
    frames: np.ndarray
    text: list[str]
    action: np.ndarray
    buttons: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    events: list[str]
    variables: np.ndarray
    attrs: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.text)


# --- dataset metadata -----------------------------------------------------------------------
def dataset_meta(game) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "game": game.name,
        "height": game.height,
        "width": game.width,
        "frames_per_chunk": game.frames_per_chunk,
        "action_names": list(game.action_names),
        "button_names": list(game.button_names),
        "variable_names": list(game.variable_names),
        # a game that is not built in (a Gymnasium env) carries its whole card: its words
        **({"card": game.card.to_dict()} if getattr(game, "card", None) is not None else {}),
    }


def read_meta(root) -> dict:
    root = Path(root)
    path = root / META_FILE
    if not root.is_dir():
        raise UserError(f"no dataset at {root}: the directory does not exist (record one with `tv2tv record`)")
    if not path.exists():
        raise UserError(f"{root} is not a TV2TV dataset: {META_FILE} is missing (record one with `tv2tv record`)")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path} is corrupt ({e}); re-record the dataset or restore the file") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{root} has format version {meta.get('format_version')}, this code reads "
                        f"version {FORMAT_VERSION}; re-record it with this version of tv2tv")
    if "card" in meta:  # a recorded Gymnasium env: its card becomes known by name to every reader
        from ..games import GameCard, register_card

        try:
            register_card(GameCard.from_dict(meta["card"]))
        except (TypeError, ValueError) as e:
            raise UserError(f"{path} holds a game card this code cannot read ({e}); re-record the dataset") from None
    return meta


def prepare_output(root, game) -> tuple[dict, int]:
    """Create or reopen a dataset directory for `game`; return (meta, next episode index).

    An existing dataset is appended to only if it was recorded from the same game at the
    same frame size; nothing already there is touched.
    """
    root = Path(root)
    meta = dataset_meta(game)
    try:
        (root / EPISODE_DIR).mkdir(parents=True, exist_ok=True)
        probe = root / f".write_probe_{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UserError(f"cannot write to output directory {root}: {e.strerror}; choose another --out") from None
    if (root / META_FILE).exists():
        old = read_meta(root)
        keys = ["game", "height", "width", "frames_per_chunk", "action_names"]
        diff = [k for k in keys if old.get(k) != meta[k]]
        if diff:
            raise UserError(
                f"{root} already holds a {old['game']} dataset at {old['height']}x{old['width']}, "
                f"{old['frames_per_chunk']} frames per chunk, which differs in {', '.join(diff)}; "
                f"record into a new --out directory")
    else:
        _atomic_write_text(root / META_FILE, json.dumps(meta, indent=2))
    existing = [int(p.name[3:9]) for p in (root / EPISODE_DIR).glob("ep_*.h5")]
    return meta, (max(existing) + 1 if existing else 0)


def _atomic_write_text(path: Path, text: str):
    with atomic_file(path) as tmp:
        tmp.write_text(text)


# --- writing --------------------------------------------------------------------------------
def _checksums(ep: Episode) -> dict:
    def h(b: bytes) -> str:
        return hashlib.sha256(b).hexdigest()

    out = {"start_frame": h(np.ascontiguousarray(ep.start_frame).tobytes()),
           "frames": h(np.ascontiguousarray(ep.frames).tobytes()),
           "text": h("\n".join(ep.text).encode()),
           "events": h("\n".join(ep.events).encode())}
    for name in _ARRAYS:
        out[name] = h(np.ascontiguousarray(getattr(ep, name)).tobytes())
    return out


def _canonical(ep: Episode) -> Episode:
    return Episode(start_frame=np.asarray(ep.start_frame, np.uint8), frames=np.asarray(ep.frames, np.uint8),
                   text=list(ep.text), action=np.asarray(ep.action, np.int16),
                   buttons=np.asarray(ep.buttons, np.uint8), reward=np.asarray(ep.reward, np.float32),
                   terminated=np.asarray(ep.terminated, bool), events=list(ep.events),
                   variables=np.asarray(ep.variables, np.float32), attrs=dict(ep.attrs))


def write_episode(root, index: int, ep: Episode, compression="gzip") -> Path:
    """Write an episode atomically: to `ep_NNNNNN.h5.PID.tmp`, then rename."""
    path = Path(root) / EPISODE_DIR / f"ep_{index:06d}.h5"
    ep = _canonical(ep)  # the checksums are over exactly what is stored
    T, F, H, W, _ = ep.frames.shape
    with atomic_file(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("start_frame", data=ep.start_frame, dtype=np.uint8)
        f.create_dataset("frames", data=ep.frames, dtype=np.uint8, chunks=(1, F, H, W, 3),
                         compression=compression, fletcher32=True)
        f.create_dataset("text", data=np.array(ep.text, dtype=object), dtype=_STR)
        f.create_dataset("events", data=np.array(ep.events, dtype=object), dtype=_STR)
        for name in _ARRAYS:
            f.create_dataset(name, data=getattr(ep, name))
        attrs = dict(ep.attrs, format_version=FORMAT_VERSION, height=H, width=W, frames_per_chunk=F,
                     num_chunks=T, episode=index, checksums=json.dumps(_checksums(ep)))
        for k, v in attrs.items():
            f.attrs[k] = v
    return path


# --- reading and checking -------------------------------------------------------------------
class BadEpisode(Exception):
    """An episode file that cannot be used; the message says why."""


def episode_paths(root) -> list[Path]:
    return sorted((Path(root) / EPISODE_DIR).glob("ep_*.h5"))


def read_episode(path, meta: dict | None = None, verify: bool = True, frames: bool = True) -> Episode:
    """Load an episode; raise BadEpisode naming what is wrong."""
    try:
        with h5py.File(path, "r") as f:
            attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()}
            missing = [k for k in ["start_frame", "frames", "text", "action", "buttons", "reward",
                                   "terminated", "events", "variables"] if k not in f]
            if missing:
                raise BadEpisode(f"missing datasets: {', '.join(missing)}")
            ep = Episode(
                start_frame=f["start_frame"][()],
                frames=f["frames"][()] if frames else np.zeros((0,), np.uint8),
                text=[t.decode() if isinstance(t, bytes) else t for t in f["text"][()]],
                action=f["action"][()], buttons=f["buttons"][()], reward=f["reward"][()],
                terminated=f["terminated"][()],
                events=[t.decode() if isinstance(t, bytes) else t for t in f["events"][()]],
                variables=f["variables"][()], attrs=attrs)
    except BadEpisode:
        raise
    except OSError as e:  # not HDF5, truncated, or a fletcher32 checksum failed on a chunk
        raise BadEpisode(f"unreadable HDF5 ({str(e).splitlines()[0][:120]}): truncated or corrupted") from None
    except Exception as e:  # noqa: BLE001 - any other decoding failure is also a bad file
        raise BadEpisode(f"unreadable ({type(e).__name__}: {e})") from None
    check_episode(ep, meta, verify=verify and frames)
    return ep


def check_episode(ep: Episode, meta: dict | None, verify: bool = True):
    a = ep.attrs
    if a.get("format_version") != FORMAT_VERSION:
        raise BadEpisode(f"format version {a.get('format_version')}, expected {FORMAT_VERSION}")
    T = len(ep.text)
    if T == 0:
        raise BadEpisode("no chunks")
    if meta is not None:
        if a.get("game") != meta["game"]:
            raise BadEpisode(f"recorded from game {a.get('game')!r}, the dataset is {meta['game']!r}")
        want = (meta["frames_per_chunk"], meta["height"], meta["width"], 3)
        if ep.frames.size and ep.frames.shape[1:] != want:
            raise BadEpisode(f"frames have shape {ep.frames.shape[1:]}, the dataset is {want}")
        if ep.buttons.shape[1:] != (len(meta["button_names"]),):
            raise BadEpisode(f"buttons have {ep.buttons.shape[1:]} columns, expected {len(meta['button_names'])}")
        if ep.action.size and (ep.action.min() < 0 or ep.action.max() >= len(meta["action_names"])):
            raise BadEpisode("action ids out of range")
    if ep.frames.size:
        if ep.frames.dtype != np.uint8 or ep.frames.ndim != 5 or ep.frames.shape[-1] != 3:
            raise BadEpisode(f"frames must be uint8 (T, F, H, W, 3), got {ep.frames.dtype} {ep.frames.shape}")
        if ep.frames.shape[0] != T:
            raise BadEpisode(f"{ep.frames.shape[0]} frame chunks but {T} text lines")
        if ep.start_frame.shape != ep.frames.shape[2:]:
            raise BadEpisode(f"start_frame shape {ep.start_frame.shape} differs from frames {ep.frames.shape[2:]}")
    for name in ["action", "buttons", "reward", "terminated", "variables"]:
        if len(getattr(ep, name)) != T:
            raise BadEpisode(f"{name} has {len(getattr(ep, name))} rows, expected {T}")
    if len(ep.events) != T:
        raise BadEpisode(f"events has {len(ep.events)} rows, expected {T}")
    empty = [i for i, t in enumerate(ep.text) if not t.strip()]
    if empty:
        raise BadEpisode(f"empty text in chunks {empty[:5]}")
    if ep.terminated[:-1].any():
        raise BadEpisode("terminated before its last chunk")
    if verify:
        stored = json.loads(a.get("checksums", "{}"))
        actual = _checksums(ep)
        bad = [k for k in actual if stored.get(k) != actual[k]]
        if bad:
            raise BadEpisode(f"checksum mismatch in {', '.join(bad)}")


def iter_episodes(root, split: str = "all", frames: bool = True, verify: bool = False) -> Iterator[tuple[Path, Episode]]:
    """Stream the dataset's good episodes; report (log) and skip bad ones.

    `split` is "train", "heldout" or "all". Checksums are checked only with `verify=True`
    (validation does); HDF5's per-chunk fletcher32 still catches corrupted frames.
    """
    if split not in ("train", "heldout", "all"):
        raise UserError(f"unknown split {split!r}; use train, heldout or all")
    meta = read_meta(root)
    for path in episode_paths(root):
        try:
            ep = read_episode(path, meta, verify=verify, frames=frames)
        except BadEpisode as e:
            log.warning("skipping bad episode %s: %s", path.name, e)
            continue
        if split != "all" and ep.attrs.get("split") != split:
            continue
        yield path, ep


def iter_window_starts(root, window: int, load, split: str = "train", seed: int = 0, epochs: int | None = 1,
                       shuffle: bool = True) -> Iterator[tuple[Path, object, int]]:
    """The order of training windows, shared by `iter_windows` and the latent cache's
    `tv2tv_env.data.latents.iter_latent_windows`: yields (episode path, load(path), start).

    `load(path)` returns the episode's data (anything with `len()` = chunks) or raises
    BadEpisode, which is logged and skipped. With `shuffle`, episode order and window
    starts are drawn from `seed`, epoch by epoch; the same arguments give the same order
    whatever `load` returns.
    """
    rng = np.random.default_rng(seed)
    paths = [p for p, _ in iter_episodes(root, split, frames=False)]
    if not paths:
        raise UserError(f"no usable {split} episodes in {root}")
    epoch = 0
    while epochs is None or epoch < epochs:
        order = rng.permutation(len(paths)) if shuffle else np.arange(len(paths))
        for i in order:
            try:
                ep = load(paths[i])
            except BadEpisode as e:
                log.warning("skipping bad episode %s: %s", paths[i].name, e)
                continue
            starts = np.arange(0, len(ep) - window + 1)
            if shuffle:
                starts = rng.permutation(starts)
            for s in starts:
                yield paths[i], ep, int(s)
        epoch += 1


def iter_windows(root, window: int, split: str = "train", seed: int = 0, epochs: int | None = 1,
                 shuffle: bool = True) -> Iterator[dict]:
    """Windows of `window` consecutive chunks for training, as numpy arrays.

    Episodes are read one at a time (the whole dataset never sits in memory); with
    `shuffle`, episode order and window starts are drawn from `seed`, epoch by epoch.
    Each window: frames (window, F, H, W, 3), prev_frame (H, W, 3) (the frame before the
    window), text (list), action, buttons, reward, terminated.
    """
    meta = read_meta(root)
    for path, ep, s in iter_window_starts(root, window, lambda p: read_episode(p, meta, verify=False),
                                          split, seed, epochs, shuffle):
        prev = ep.start_frame if s == 0 else ep.frames[s - 1, -1]
        yield {"frames": ep.frames[s:s + window], "prev_frame": prev,
               "text": ep.text[s:s + window], "action": ep.action[s:s + window],
               "buttons": ep.buttons[s:s + window], "reward": ep.reward[s:s + window],
               "terminated": ep.terminated[s:s + window], "episode": path.name, "start": s}


def load_frames(root, split: str = "train", max_frames: int | None = None, seed: int = 0) -> np.ndarray:
    """All frames of a split as one (N, H, W, 3) uint8 array (start frames included), for
    training the frame VAE. With `max_frames`, a random subset drawn from `seed`."""
    parts = []
    for _, ep in iter_episodes(root, split):
        parts.append(ep.start_frame[None])
        parts.append(ep.frames.reshape(-1, *ep.frames.shape[2:]))
    if not parts:
        raise UserError(f"no usable {split} episodes in {root}")
    frames = np.concatenate(parts)
    if max_frames and len(frames) > max_frames:
        frames = frames[np.sort(np.random.default_rng(seed).choice(len(frames), max_frames, replace=False))]
    return frames


@dataclass
class Report:
    good: list = field(default_factory=list)  # (name, chunks, split)
    bad: list = field(default_factory=list)  # (name, reason)
    incomplete: list = field(default_factory=list)  # leftover .tmp files


def validate(root) -> tuple[dict, Report]:
    """Check every episode fully (shapes, dtypes, lengths, text, checksums)."""
    meta = read_meta(root)
    rep = Report()
    for path in episode_paths(root):
        try:
            ep = read_episode(path, meta, verify=True)
            rep.good.append((path.name, len(ep), ep.attrs.get("split", "?")))
        except BadEpisode as e:
            rep.bad.append((path.name, str(e)))
    rep.incomplete = sorted(p.name for p in (Path(root) / EPISODE_DIR).glob("*.tmp"))
    return meta, rep


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
