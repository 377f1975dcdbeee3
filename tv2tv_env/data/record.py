"""Record real game play: a scripted player drives a real engine; every chunk gets text.

Each episode is played and written by one worker process that keeps its own engine
(engines start slowly, Crafter's resets are slow), and lands on disk atomically, so a
killed recording loses at most the episodes in progress. Episode `i` of a run uses seed
`seed + i`: the same command records the same data.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import multiprocessing.util
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import UserError
from ..games import GameCard, get_card, make_game, register_card
from . import dataset

_worker_game = None


def heldout_indices(n: int, fraction: float, seed: int) -> set[int]:
    """Which of this run's n episodes are held out: round(fraction*n), at least 1 when n >= 2."""
    if n < 2 or fraction <= 0:
        return set()
    k = min(n - 1, max(1, round(fraction * n)))
    return set(np.random.default_rng(seed).choice(n, size=k, replace=False).tolist())


def play_episode(game, seed: int, max_chunks: int, on_chunk=None) -> dataset.Episode:
    """Play one episode with the game's scripted player; describe every chunk."""
    rng = np.random.default_rng(seed)
    start = game.reset(seed)
    player = game.make_player(rng)
    frames, text, action, buttons, reward, term, events, variables = [], [], [], [], [], [], [], []
    for _ in range(max_chunks):
        a = player.act(game)
        c = game.step_chunk(a)
        frames.append(c.frames)
        text.append(game.describe(c, rng))
        action.append(c.action)
        buttons.append(game.buttons(c.action))
        reward.append(c.reward)
        term.append(c.terminated)
        events.append(json.dumps(c.events, sort_keys=True))
        variables.append(c.variables if c.variables is not None else np.zeros(0, np.float32))
        if on_chunk:
            on_chunk()
        if c.terminated or c.events.get("truncated"):  # a Gymnasium env's time limit stops it too
            break
    return dataset.Episode(
        start_frame=start, frames=np.stack(frames), text=text, action=np.array(action),
        buttons=np.stack(buttons), reward=np.array(reward, np.float32), terminated=np.array(term),
        events=events, variables=np.stack(variables).astype(np.float32),
        attrs={"game": game.name, "scenario": getattr(game, "scenario", game.name), "seed": seed,
               "truncated": not term[-1], "recorded": dataset.now_iso(),
               **({"player": game.player} if isinstance(getattr(game, "player", None), str) else {})})


def _init_worker(game_name, game_kwargs, card=None):
    global _worker_game
    if card is not None:  # a spawned worker knows only the built-in cards
        register_card(GameCard.from_dict(card))
    _worker_game = make_game(game_name, **game_kwargs)
    # ViZDoom runs each engine as a child process that outlives a worker killed without
    # closing it, and keeps the parent's stdout open (a `tv2tv record | tail` never ends).
    # Close the engine when the worker exits: normally (pool.close + join run finalizers)
    # and on the SIGTERM of pool.terminate (SystemExit runs them too).
    multiprocessing.util.Finalize(_worker_game, _worker_game.close, exitpriority=10)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))


def _record_one(job):
    out, index, seed, max_chunks, split, compression = job
    ep = play_episode(_worker_game, seed, max_chunks)
    ep.attrs["split"] = split
    dataset.write_episode(out, index, ep, compression=compression)
    return len(ep)


def record(game_name: str, episodes: int, max_chunks: int, out, seed: int = 0, workers: int = 1,
           height: int | None = None, width: int | None = None, frames_per_chunk: int | None = None,
           heldout: float = 0.1, compression: str = "gzip", progress: bool = True,
           game_kwargs: dict | None = None) -> dict:
    """Record `episodes` episodes into `out`; return a summary (chunks, frames, seconds).
    Frame size and frames per chunk default to the game card's."""
    card = get_card(game_name)  # an unknown game fails first, naming the known ones
    height = card.height if height is None else height
    width = card.width if width is None else width
    frames_per_chunk = card.frames_per_chunk if frames_per_chunk is None else frames_per_chunk
    if episodes < 1 or max_chunks < 1:
        raise UserError("--episodes and --max-chunks must be at least 1")
    if not (16 <= height <= 512 and 16 <= width <= 512):
        raise UserError(f"frame size {height}x{width} is out of range; use 16 to 512 pixels a side")
    if frames_per_chunk < 1:
        raise UserError("--frames-per-chunk must be at least 1")
    if workers < 1:
        raise UserError("--workers must be at least 1")
    kw = dict(game_kwargs or {}, height=height, width=width, frames_per_chunk=frames_per_chunk)
    game = make_game(game_name, **kw)  # validates the game and its options before any work
    try:
        meta, first = dataset.prepare_output(out, game)
    except UserError:
        game.close()
        raise
    held = heldout_indices(episodes, heldout, seed)
    jobs = [(str(out), first + i, seed + i, max_chunks, "heldout" if i in held else "train", compression)
            for i in range(episodes)]
    t0, chunks = time.perf_counter(), 0
    bar = tqdm(total=episodes * max_chunks, unit="chunk", desc=f"record {game_name}", disable=not progress)
    try:
        if workers == 1:
            for job in jobs:
                out_, index, s, mc, split, comp = job
                n0 = bar.n
                ep = play_episode(game, s, mc, on_chunk=lambda: bar.update(1))
                ep.attrs["split"] = split
                dataset.write_episode(out_, index, ep, compression=comp)
                bar.total -= mc - (bar.n - n0)  # an episode that ended early shrinks the total
                bar.refresh()
                chunks += len(ep)
        else:
            game.close()
            ctx = mp.get_context("spawn")  # engines do not survive fork well
            init = (game_name, kw, card.to_dict() if card.env_id else None)
            with ctx.Pool(min(workers, episodes), _init_worker, init) as pool:
                for n in pool.imap_unordered(_record_one, jobs):
                    chunks += n
                    bar.total -= max_chunks - n
                    bar.update(n)
                pool.close()  # let the workers exit normally and close their engines
                pool.join()
    finally:
        bar.close()
        game.close()
    seconds = time.perf_counter() - t0
    frames = chunks * frames_per_chunk
    return {"game": game_name, "episodes": episodes, "chunks": chunks, "frames": frames,
            "seconds": round(seconds, 2), "frames_per_second": round(frames / seconds, 1),
            "workers": workers, "out": str(Path(out)), "first_episode": first, "heldout": sorted(first + i for i in held)}


def env_card(env_id: str, env_kwargs: dict | None = None, card_file=None, height: int | None = None,
             width: int | None = None, frames_per_chunk: int | None = None) -> GameCard:
    """The game card of a Gymnasium env (its own action names, or the user's card file), registered
    so that `record(card.name, ...)` records the env (games/gym_card.py, games/gym_source.py)."""
    from ..games.gym_card import card_for_env
    from ..games.gym_source import make_env

    env = make_env(env_id, env_kwargs)
    try:
        card = card_for_env(env_id, env, env_kwargs, card_file, height=height or 64, width=width or 64,
                            frames_per_chunk=frames_per_chunk or 4)
    finally:
        env.close()
    return register_card(card)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
