"""Recording from the real engines: shapes, text, determinism, splits, workers."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tv2tv_env.data import dataset
from tv2tv_env.errors import UserError
from tv2tv_env.games import make_game
from tv2tv_env.games.doom import ACTION_NAMES as DOOM_ACTIONS
from tv2tv_env.games.doom import BUTTON_NAMES, UNSEEN_PHRASES
from tv2tv_env.data.record import TEST_WORKER_DIES, heldout_indices, play_episode, record


@pytest.mark.parametrize("fixture", ["doom_data", "crafter_data"])
def test_recorded_dataset_is_valid(fixture, request):
    root = request.getfixturevalue(fixture)
    meta, rep = dataset.validate(root)
    assert rep.bad == [] and rep.incomplete == []
    assert len(rep.good) >= 2
    assert {s for *_, s in rep.good} == {"train", "heldout"}  # a held-out split exists
    for _, ep in dataset.iter_episodes(root):
        T = len(ep)
        assert ep.frames.shape == (T, 4, 64, 64, 3) and ep.frames.dtype == np.uint8
        assert ep.start_frame.shape == (64, 64, 3)
        assert all(t.strip() for t in ep.text)
        assert ep.buttons.shape == (T, len(meta["button_names"]))
        assert ep.reward.dtype == np.float32 and ep.terminated.shape == (T,)
        assert ep.frames.std() > 5  # real pictures, not blank frames
        assert all(isinstance(json.loads(e), dict) for e in ep.events)


def test_doom_frames_change_with_actions(doom_data):
    """Consecutive chunks of real play differ (the engine runs; frames are not frozen)."""
    _, ep = next(dataset.iter_episodes(doom_data))
    diffs = np.abs(ep.frames[1:, -1].astype(int) - ep.frames[:-1, -1].astype(int)).mean(axis=(1, 2, 3))
    assert (diffs > 0.5).mean() > 0.5


def test_doom_buttons_match_action_names(doom_data):
    _, ep = next(dataset.iter_episodes(doom_data))
    for a, b in zip(ep.action, ep.buttons):
        pressed = {BUTTON_NAMES[i] for i in np.flatnonzero(b)}
        assert pressed == set(DOOM_ACTIONS[a].split("+")) - {"idle"}


def test_same_seed_same_episode():
    game = make_game("doom", scenarios=["defend_the_center"])
    try:
        a = play_episode(game, seed=7, max_chunks=6)
        b = play_episode(game, seed=7, max_chunks=6)
        c = play_episode(game, seed=8, max_chunks=6)
    finally:
        game.close()
    assert np.array_equal(a.frames, b.frames) and a.text == b.text
    assert not (np.array_equal(a.frames, c.frames) and a.text == c.text)


def test_crafter_same_seed_same_world():
    game = make_game("crafter")
    a, b = game.reset(3), game.reset(3)
    c = game.reset(4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_scripted_player_uses_every_doom_action():
    """The scripted player (with its random share) covers the whole action vocabulary."""
    game = make_game("doom")
    seen = set()
    try:
        for seed in range(4):
            ep = play_episode(game, seed=seed, max_chunks=80)
            seen |= set(ep.action.tolist())
    finally:
        game.close()
    assert seen == set(range(len(DOOM_ACTIONS)))


def test_unseen_wordings_never_recorded(doom_data):
    unseen = {p for ps in UNSEEN_PHRASES.values() for p in ps}
    for _, ep in dataset.iter_episodes(doom_data):
        for t in ep.text:
            assert not any(u in t for u in unseen), t


def test_workers_record_the_same_data_as_one_process(tmp_path):
    one = record("crafter", 2, 5, tmp_path / "one", seed=11, workers=1, progress=False)
    two = record("crafter", 2, 5, tmp_path / "two", seed=11, workers=2, progress=False)
    assert one["chunks"] == two["chunks"]
    for (_, a), (_, b) in zip(dataset.iter_episodes(tmp_path / "one"), dataset.iter_episodes(tmp_path / "two")):
        assert np.array_equal(a.frames, b.frames) and a.text == b.text


def _vizdoom_engines() -> set[int]:
    """PIDs of running ViZDoom engine processes (Linux /proc)."""
    pids = set()
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if b"viz_instance_id" in f.read():
                    pids.add(int(d))
        except OSError:  # the process ended while we looked
            continue
    return pids


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the process table from /proc")
def test_workers_leave_no_engine_running(tmp_path):
    before = _vizdoom_engines()
    record("doom", 2, 3, tmp_path / "d", seed=5, workers=2, progress=False)
    assert _vizdoom_engines() - before == set()  # orphans would keep a pipe like `tv2tv record | tail` open


def test_appending_continues_numbering(tmp_path):
    record("crafter", 1, 3, tmp_path / "d", seed=0, progress=False)
    s = record("crafter", 1, 3, tmp_path / "d", seed=1, progress=False)
    assert s["first_episode"] == 1
    assert [p.name for p in dataset.episode_paths(tmp_path / "d")] == ["ep_000000.h5", "ep_000001.h5"]


def test_heldout_indices():
    assert heldout_indices(1, 0.1, 0) == set()
    assert len(heldout_indices(2, 0.1, 0)) == 1
    assert len(heldout_indices(100, 0.1, 0)) == 10
    assert heldout_indices(50, 0.1, 3) == heldout_indices(50, 0.1, 3)
    assert len(heldout_indices(8, 0.95, 0)) == 7  # short of 1: a train episode is kept
    assert heldout_indices(8, 0.0, 0) == set()
    with pytest.raises(UserError, match="not a fraction"):
        heldout_indices(8, 1.5, 0)


def test_heldout_one_holds_out_every_episode(tmp_path):
    """--heldout 1.0 (fresh bench starts) holds out all episodes, not all but one."""
    assert heldout_indices(8, 1.0, 60000) == set(range(8))
    assert heldout_indices(1, 1.0, 0) == {0}
    s = record("crafter", 2, 2, tmp_path / "d", seed=3, heldout=1.0, progress=False)
    assert s["heldout"] == [0, 1]
    _, rep = dataset.validate(tmp_path / "d")
    assert [split for *_, split in rep.good] == ["heldout", "heldout"]


def _record_cli(out, *args, dies=None, timeout=120):
    """`tv2tv record` of Doom in a subprocess (so a hang fails the test instead of stalling it);
    `dies` = "SEED:TIMES" makes the worker playing SEED SIGKILL itself mid-episode TIMES times."""
    env = dict(os.environ, **({TEST_WORKER_DIES: dies} if dies else {}))
    cmd = [sys.executable, "-m", "tv2tv_cli", "record", "--game", "doom", "--out", str(out), "--quiet", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the process table from /proc")
def test_a_killed_worker_is_replaced_and_its_episode_recorded_again(tmp_path):
    """A worker SIGKILLed in the middle of an episode (as by an engine segfault) neither stalls the
    run nor costs an episode: a fresh worker records it again, whole, as one process would."""
    before = _vizdoom_engines()
    r = _record_cli(tmp_path / "d", "--episodes", "3", "--max-chunks", "4", "--workers", "2", "--seed", "100",
                    dies="101:1")
    assert r.returncode == 0, r.stderr
    assert "episode 1 (seed 101): its worker killed by SIGKILL" in r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["chunks"] == 12
    _, rep = dataset.validate(tmp_path / "d")
    assert rep.bad == [] and rep.incomplete == [] and [n for n, *_ in rep.good] == [
        "ep_000000.h5", "ep_000001.h5", "ep_000002.h5"]
    game = make_game("doom")
    try:
        alone = play_episode(game, seed=101, max_chunks=4)
    finally:
        game.close()
    again = dataset.read_episode(tmp_path / "d" / "episodes" / "ep_000001.h5")
    assert np.array_equal(again.frames, alone.frames) and again.text == alone.text
    assert _vizdoom_engines() - before == set()  # the dead worker's engine was killed with it


def test_an_episode_whose_worker_always_dies_fails_the_run_naming_it(tmp_path):
    """Past --retries the command exits 2 naming the lost episode and its seed; the other
    episodes are still recorded and valid, and no unfinished file is left behind."""
    r = _record_cli(tmp_path / "d", "--episodes", "3", "--max-chunks", "4", "--workers", "2", "--seed", "100",
                    "--retries", "1", dies="101:99")
    assert r.returncode == 2
    assert "episode 1 (seed 101) could not be recorded" in r.stderr and "2 tries" in r.stderr
    assert r.stderr.count("its worker killed by SIGKILL") == 2  # the first try and one retry
    _, rep = dataset.validate(tmp_path / "d")
    assert rep.bad == [] and rep.incomplete == []
    assert [n for n, *_ in rep.good] == ["ep_000000.h5", "ep_000002.h5"]


@pytest.mark.parametrize("kwargs, words", [
    (dict(game_name="pong"), "unknown game"),
    (dict(game_name="doom", height=8), "frame size"),
    (dict(game_name="doom", episodes=0), "at least 1"),
    (dict(game_name="doom", game_kwargs={"scenarios": ["no_such_map"]}), "unknown Doom scenario"),
])
def test_bad_record_arguments(tmp_path, kwargs, words):
    args = dict(episodes=1, max_chunks=2, out=tmp_path / "x", progress=False)
    args.update(kwargs)
    with pytest.raises(UserError, match=words):
        record(**args)


def _third_in_a_row(actions, names):
    """Share of the chunks holding one of `names` that are the third of a run of that action."""
    ids = [DOOM_ACTIONS.index(n) for n in names]
    held = [t for t in range(len(actions)) if actions[t] in ids]
    third = [t for t in held if t >= 2 and actions[t - 1] == actions[t - 2] == actions[t]]
    return len(third) / max(len(held), 1), len(held)


def test_hold_player_sustains_strafes_and_shots(tmp_path):
    """The "hold" player keeps a mode's strafe and attack: three strafe chunks in a row are
    common (the bench commands three), where the "dodge" player of data/doom almost never
    records them. The dodge style is the default, and the recording says which was used."""
    shares = {}
    for style in ["dodge", "hold"]:
        out = tmp_path / style
        record("doom", episodes=2, max_chunks=200, out=out, seed=20000, heldout=0, progress=False,
               game_kwargs={"scenarios": ["freedoom2:MAP01"], **({"player": style} if style == "hold" else {})})
        acts = [ep.action for _, ep in dataset.iter_episodes(out, frames=False)]
        assert all(ep.attrs["player"] == style for _, ep in dataset.iter_episodes(out, frames=False))
        runs = [_third_in_a_row(a, ["strafe_left", "strafe_right", "strafe_left+shoot", "strafe_right+shoot"])
                for a in acts]
        held = sum(n for _, n in runs)
        shares[style] = sum(s * n for s, n in runs) / held
        assert held >= 20, f"{style}: only {held} strafe chunks in 400"
    assert shares["dodge"] < 0.08, shares
    assert shares["hold"] > 0.2, shares
    with pytest.raises(UserError, match="player style"):
        make_game("doom", player="sidestep")
