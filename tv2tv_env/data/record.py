"""Record real game play: a scripted player drives a real engine; every chunk gets text.

Each episode is played and written by one worker process that keeps its own engine
(engines start slowly, Crafter's resets are slow), and lands on disk atomically, so a
killed recording loses at most the episodes in progress. A worker that dies (an engine
segfault, a SIGKILL) is noticed within a second; its episode is played again by a fresh worker, a
few times at most. Episode `i` of a run uses seed `seed + i`: the same command records the
same data.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import multiprocessing.connection
import os
import signal
import sys
import time
import traceback
from collections import deque
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np
from tqdm import tqdm

from ..errors import UserError
from ..games import GameCard, get_card, make_game, register_card
from . import dataset

# Tests make a worker die like a crashed engine: "SEED:TIMES" SIGKILLs the worker in the middle
# of seed SEED's episode, on that episode's first TIMES tries.
TEST_WORKER_DIES = "TV2TV_TEST_WORKER_DIES"


def heldout_indices(n: int, fraction: float, seed: int) -> set[int]:
    """Which of this run's n episodes are held out: all of them for fraction 1; else round(fraction*n),
    at least 1 and at most n - 1 when n >= 2 (a small run keeps both splits), none when n is 1."""
    if not 0 <= fraction <= 1:
        raise UserError(f"--heldout {fraction} is not a fraction; use 0 (none held out) to 1 (all held out)")
    if fraction == 1:
        return set(range(n))
    if n < 2 or fraction == 0:
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


# --- recording in worker processes that may die -------------------------------------------
class Job(NamedTuple):
    """One episode to record: its file index, its seed and its split."""
    index: int
    seed: int
    split: str


def _die_here_for_tests(seed: int, attempt: int):
    """SIGKILL this worker if TEST_WORKER_DIES says so (a test's stand-in for an engine segfault)."""
    rule = os.environ.get(TEST_WORKER_DIES)
    if rule:
        die_seed, times = map(int, rule.split(":"))
        if seed == die_seed and attempt < times:
            os.kill(os.getpid(), signal.SIGKILL)


def _worker_main(conn, game_name, game_kwargs, card, out, max_chunks, compression):
    """A recording process: one engine; plays the (job, attempt) pairs it receives until None."""
    # ViZDoom runs each engine as a child process, which outlives a worker killed without closing
    # it and keeps the parent's stdout open (a `tv2tv record | tail` never ends). In a process
    # group of its own the engine can be killed with its worker (os.killpg in _stop_worker);
    # Ctrl-C then reaches the parent only, which stops the workers.
    os.setpgrp()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # SystemExit runs the finally: engine closed
    game = None
    try:
        if card is not None:  # a spawned worker knows only the built-in cards
            register_card(GameCard.from_dict(card))
        game = make_game(game_name, **game_kwargs)
        for job, attempt in iter(conn.recv, None):
            ep = play_episode(game, job.seed, max_chunks, on_chunk=lambda: _die_here_for_tests(job.seed, attempt))
            ep.attrs["split"] = job.split
            dataset.write_episode(out, job.index, ep, compression=compression)
            conn.send(("done", len(ep)))
    except EOFError:  # the parent is gone: nothing to report to
        pass
    except Exception as e:  # reported to the parent, which raises it there
        try:
            conn.send(("error", e, traceback.format_exc()))
        except Exception:  # an exception that does not pickle
            conn.send(("error", RuntimeError(repr(e)), traceback.format_exc()))
    finally:
        if game is not None:
            game.close()


class _Worker:
    """A recording process and the episode it is playing (None when idle)."""

    def __init__(self, ctx, init):
        self.conn, child_conn = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child_conn, *init), daemon=True)
        self.process.start()
        child_conn.close()  # the worker's end lives in the worker (and in any engine it starts)
        self.job = None

    def start(self, job: Job, attempt: int):
        self.job = job
        try:
            self.conn.send((job, attempt))
        except OSError:  # it has just died: the loop's liveness check sees it and plays the job again
            pass


def _stop_worker(w: _Worker, graceful: bool):
    """End a worker and its engine: ask it to finish (graceful) or SIGTERM it, then kill what is left."""
    try:
        if graceful and w.process.is_alive():
            w.conn.send(None)
        else:
            w.process.terminate()
    except OSError:  # its pipe is already closed: it has died
        pass
    w.process.join(30)
    if w.process.exitcode != 0:  # killed or crashed: its engine may still be running in its group
        try:
            os.killpg(w.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        w.process.join()
    w.conn.close()


def _receive(conn):
    try:
        return conn.recv() if conn.poll() else None
    except (EOFError, OSError):
        return None


def _death(exitcode) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exited with code {exitcode}"


def _chunks_on_disk(path: Path) -> int:
    with h5py.File(path, "r") as f:
        return int(f.attrs["num_chunks"])


def _record_in_workers(jobs: list[Job], workers: int, init: tuple, out, retries: int, on_episode, warn) -> list:
    """Record `jobs` in `workers` processes; call on_episode(chunks) as each one lands on disk.

    A worker that dies is seen within a second (a liveness check), replaced by a fresh one, and its
    episode played again from the start, at most `retries` times; the other workers go on. An
    episode found on disk was finished before its worker died: it is kept, not played again.
    Returns the episodes that were lost every time, as (job, how its last worker ended).
    """
    ctx = mp.get_context("spawn")  # engines do not survive fork well
    todo, tries, lost, pool = deque(jobs), {j.index: 0 for j in jobs}, [], []
    try:
        while todo or any(w.job for w in pool):
            for w in [w for w in pool if w.job is None] + [None] * (workers - len(pool)):
                if not todo:
                    break
                if w is None:
                    w = _Worker(ctx, init)
                    pool.append(w)
                job = todo.popleft()
                w.start(job, tries[job.index])
            busy = [w for w in pool if w.job is not None]
            # Wait for a report, and look at who is alive every second: a dead worker's pipe (and
            # its process sentinel) need not close, as its orphaned engine inherited them.
            ready = mp.connection.wait([w.conn for w in busy], timeout=1.0)
            for w in busy:
                if w.conn not in ready and w.process.is_alive():
                    continue
                message = _receive(w.conn)  # None: it died before it reported
                if message is not None and message[0] == "done":
                    w.job = None
                    on_episode(message[1])
                    continue
                if message is not None:  # an ordinary Python error in the worker: a bug, not a crash
                    _, error, remote_traceback = message
                    raise error from RuntimeError(f"in the recording worker:\n{remote_traceback}")
                w.process.join()
                job, why = w.job, _death(w.process.exitcode)
                pool.remove(w)
                _stop_worker(w, graceful=False)
                path = Path(out) / dataset.EPISODE_DIR / f"ep_{job.index:06d}.h5"
                if path.exists():  # written (atomically) just before the worker died
                    on_episode(_chunks_on_disk(path))
                    continue
                for unfinished in path.parent.glob(path.name + ".*tmp"):  # its unfinished file (atomic_file's)
                    unfinished.unlink(missing_ok=True)
                tries[job.index] += 1
                if tries[job.index] > retries:
                    lost.append((job, why))
                    warn(f"episode {job.index} (seed {job.seed}) lost: its worker {why} on all "
                         f"{tries[job.index]} tries")
                else:
                    warn(f"episode {job.index} (seed {job.seed}): its worker {why}; "
                         f"recording it again on a fresh engine (try {tries[job.index] + 1} of {retries + 1})")
                    todo.appendleft(job)
    except BaseException:
        for w in pool:
            _stop_worker(w, graceful=False)
        raise
    for w in pool:
        _stop_worker(w, graceful=True)  # the workers close their engines and exit
    return lost


def record(game_name: str, episodes: int, max_chunks: int, out, seed: int = 0, workers: int = 1,
           height: int | None = None, width: int | None = None, frames_per_chunk: int | None = None,
           heldout: float = 0.1, compression: str = "gzip", progress: bool = True,
           game_kwargs: dict | None = None, retries: int = 2) -> dict:
    """Record `episodes` episodes into `out`; return a summary (chunks, frames, seconds).
    Frame size and frames per chunk default to the game card's. With several workers, an episode
    whose worker dies is recorded again by a fresh one up to `retries` times; an episode lost
    beyond that fails the run (UserError) once the others are written."""
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
    if retries < 0:
        raise UserError("--retries must be 0 or more")
    held = heldout_indices(episodes, heldout, seed)  # a bad fraction fails before any engine starts
    kw = dict(game_kwargs or {}, height=height, width=width, frames_per_chunk=frames_per_chunk)
    game = make_game(game_name, **kw)  # validates the game and its options before any work
    try:
        meta, first = dataset.prepare_output(out, game)
    except UserError:
        game.close()
        raise
    jobs = [Job(first + i, seed + i, "heldout" if i in held else "train") for i in range(episodes)]
    t0, chunks, lost = time.perf_counter(), 0, []
    bar = tqdm(total=episodes * max_chunks, unit="chunk", desc=f"record {game_name}", disable=not progress)
    try:
        if workers == 1:
            for job in jobs:
                n0 = bar.n
                ep = play_episode(game, job.seed, max_chunks, on_chunk=lambda: bar.update(1))
                ep.attrs["split"] = job.split
                dataset.write_episode(out, job.index, ep, compression=compression)
                bar.total -= max_chunks - (bar.n - n0)  # an episode that ended early shrinks the total
                bar.refresh()
                chunks += len(ep)
        else:
            game.close()

            def on_episode(n):
                nonlocal chunks
                chunks += n
                bar.total -= max_chunks - n
                bar.update(n)

            init = (game_name, kw, card.to_dict() if card.env_id else None, str(out), max_chunks, compression)
            def warn(message):  # above the bar, even with --quiet
                tqdm.write(message, file=sys.stderr)

            lost = _record_in_workers(jobs, min(workers, episodes), init, out, retries, on_episode, warn)
    finally:
        bar.close()
        game.close()
    if lost:
        names = ", ".join(f"episode {job.index} (seed {job.seed})" for job, _ in lost)
        raise UserError(
            f"{names} could not be recorded: the worker playing it died on all {retries + 1} tries "
            f"({lost[0][1]}); the other {episodes - len(lost)} episodes are written and valid in {out}. "
            f"Record a lost one alone with --seed SEED --episodes 1 into the same --out, or raise --retries")
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
