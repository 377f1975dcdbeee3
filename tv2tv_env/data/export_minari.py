"""Export a recorded HDF5 dataset as a Minari dataset (the optional `minari` extra).

Each recorded episode of T chunks becomes one Minari episode of T steps:

    observations  (T+1, H, W, 3) uint8   `start_frame`, then the last frame of every chunk
    actions       T strings              the chunk's text (a `gymnasium.spaces.Text` action)
    rewards       (T,)                   `reward`
    terminations  (T,)                   `terminated`
    truncations   (T,)                   True at the last step of an episode recorded as truncated
    infos         frames (T+1, F, H, W, 3) uint8 and action_id (T+1,) int16, Minari's layout
                  (entry 0 is the reset's info, entry t+1 the step's): entry 0 holds
                  `start_frame` repeated F times and action id -1, entry t+1 chunk t's frames
                  and `action`; so infos["frames"][t][-1] == observations[t] always.

Frames are stored losslessly (Minari's JPEG encoding of image observations is turned off).
Minari itself is imported lazily: without it the export is refused with a one-line hint.
"""
from __future__ import annotations

import inspect
import os
import shutil
import string
import warnings
from pathlib import Path

import numpy as np

from ..errors import UserError
from .dataset import iter_episodes, read_meta

TEXT_MAX_LENGTH = 128
TEXT_CHARSET = string.ascii_letters + string.digits + " ,.;:!?'-+"
AUTHOR = "TV2TV Gym"


def _import_minari():
    try:
        import minari
        from minari.data_collector import EpisodeBuffer
    except ImportError:
        raise UserError('minari is not installed: pip install -e ".[minari]"') from None
    return minari, EpisodeBuffer


def action_space():
    import gymnasium as gym

    return gym.spaces.Text(max_length=TEXT_MAX_LENGTH, min_length=0, charset=TEXT_CHARSET)


def check_texts(root) -> int:
    """Refuse (UserError) if any recorded text does not fit the Text action space; return the
    number of exportable episodes. Reads no frames."""
    allowed = set(TEXT_CHARSET)
    n = 0
    for path, ep in iter_episodes(root, "all", frames=False):
        for i, t in enumerate(ep.text):
            bad = sorted(set(t) - allowed)
            if bad or len(t) > TEXT_MAX_LENGTH:
                why = f"characters {''.join(bad)!r} outside the action charset" if bad else \
                      f"{len(t)} characters, more than {TEXT_MAX_LENGTH}"
                raise UserError(f"{path.name} chunk {i}: text {t!r} has {why}; it cannot be a Minari Text action")
        n += len(ep) > 0
    return n


def _buffer(EpisodeBuffer, ep):
    T = len(ep)
    frames = np.asarray(ep.frames, np.uint8)
    start = np.asarray(ep.start_frame, np.uint8)
    observations = np.concatenate([start[None], frames[:, -1]])
    truncations = np.zeros(T, bool)
    truncations[-1] = bool(ep.attrs.get("truncated", False))
    infos = {"frames": np.concatenate([np.repeat(start[None, None], frames.shape[1], axis=1), frames]),
             "action_id": np.concatenate([[-1], np.asarray(ep.action, np.int16)]).astype(np.int16)}
    options = {k: str(ep.attrs[k]) for k in ("game", "scenario", "split") if ep.attrs.get(k) is not None}
    seed = ep.attrs.get("seed")
    return EpisodeBuffer(seed=None if seed is None else int(seed), options=options or None,
                         observations=observations, actions=list(ep.text),
                         rewards=[float(r) for r in ep.reward], terminations=[bool(x) for x in ep.terminated],
                         truncations=truncations.tolist(), infos=infos)


def export_minari(root, dataset_id: str, out=None) -> dict:
    """Write the recorded dataset at `root` as Minari dataset `dataset_id` (form
    `(namespace/)name-vN`) under `out` (else MINARI_DATASETS_PATH, else ~/.minari/datasets).
    Episodes are read and written one at a time. Returns a summary dict."""
    minari, EpisodeBuffer = _import_minari()
    from minari.dataset.minari_dataset import parse_dataset_id
    from minari.storage import get_dataset_path

    meta = read_meta(root)
    try:
        parse_dataset_id(dataset_id)
    except ValueError:
        raise UserError(f"bad --dataset-id {dataset_id!r}: use (namespace/)name-vN, e.g. tv2tv/doom-v0") from None
    if check_texts(root) == 0:
        raise UserError(f"no usable episodes in {root}")

    old_env = os.environ.get("MINARI_DATASETS_PATH")
    if out is not None:
        os.environ["MINARI_DATASETS_PATH"] = str(Path(out).resolve())
    try:
        target = Path(get_dataset_path(dataset_id))
        if target.exists():
            raise UserError(f"a Minari dataset {dataset_id!r} already exists at {target}; "
                            f"choose another --dataset-id (or version) or delete it")
        H, W, F = meta["height"], meta["width"], meta["frames_per_chunk"]
        import gymnasium as gym

        obs_space = gym.spaces.Box(0, 255, (H, W, 3), np.uint8)
        description = (f"{meta['game']} play recorded by TV2TV Gym's scripted players: {H}x{W} RGB frames, "
                       f"{F} frames per step (chunk). Observation: the last frame of the step's chunk "
                       f"(the first one: the frame before the first chunk). Action: English text saying what "
                       f"the player did and what happened. infos: the chunk's {F} frames and the game's action id.")
        kwargs = {}
        if "jpeg_encoding" in inspect.signature(minari.create_dataset_from_buffers).parameters:
            kwargs["jpeg_encoding"] = False  # lossless frames (older Minari never encodes)
        dataset = None
        episodes = steps = 0
        try:
            for _, ep in iter_episodes(root, "all"):
                if len(ep) == 0:
                    continue
                buf = _buffer(EpisodeBuffer, ep)
                if dataset is None:
                    with warnings.catch_warnings():  # about fields we cannot fill (email, permalink, env)
                        warnings.simplefilter("ignore", UserWarning)
                        dataset = minari.create_dataset_from_buffers(
                            dataset_id, [buf], action_space=action_space(), observation_space=obs_space,
                            algorithm_name=f"tv2tv record (scripted {meta['game']} players)",
                            author=AUTHOR, description=description, **kwargs)
                else:
                    dataset.update_dataset_from_buffer([buf])
                episodes += 1
                steps += len(ep)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)  # never leave a half-written dataset behind
            raise
        return {"dataset_id": dataset_id, "path": str(target), "episodes": episodes, "steps": steps,
                "game": meta["game"], "frame_size": [H, W], "minari_version": minari.__version__}
    finally:
        if out is not None:
            if old_env is None:
                os.environ.pop("MINARI_DATASETS_PATH", None)
            else:
                os.environ["MINARI_DATASETS_PATH"] = old_env
