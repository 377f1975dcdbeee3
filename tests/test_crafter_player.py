"""Crafter's chunks do one thing (a move walks one cell), and the scripted player's labels say
what the frames show: while the engine keeps the player asleep, the action is sleep."""
import numpy as np

from tv2tv_env.games import get_card
from tv2tv_env.games.crafter import ACTION_ID, ACTION_NAMES, CrafterGame


def test_a_move_walks_one_cell_and_do_goes_on_for_the_chunk():
    game = CrafterGame()
    game.reset(3)
    moved = []
    for name in ["move_left", "move_up", "move_right", "move_down"] * 3:
        before = np.array(game.info["player_pos"])
        game.step_chunk(ACTION_ID[name])
        moved.append(int(np.abs(np.array(game.info["player_pos"]) - before).sum()))
    assert max(moved) == 1 and sum(moved) >= 6  # one cell, not four; most moves go somewhere
    assert game.env._step == 12 * game.frames_per_chunk  # four engine steps a chunk, the rest noops


def test_the_player_labels_sleep_while_asleep():
    game = CrafterGame()
    game.reset(0)
    player = game.make_player(np.random.default_rng(0))
    for _ in range(15):  # a little tired, so that sleep takes
        game.step_chunk(ACTION_ID["noop"])
    game.step_chunk(ACTION_ID["sleep"])
    assert game.sleeping
    assert [ACTION_NAMES[player.act(game)] for _ in range(3)] == ["sleep"] * 3  # the engine ignores any other


def test_asleep_the_engine_ignores_commands_as_the_card_says():
    """The card's unresponsive_actions (the bench takes no start right after one) is the engine's
    behaviour, not a guess: asleep, a move goes nowhere and the player sleeps on."""
    assert get_card("crafter").unresponsive_actions == ("sleep",)
    game = CrafterGame()
    game.reset(0)
    for _ in range(15):
        game.step_chunk(ACTION_ID["noop"])
    game.step_chunk(ACTION_ID["sleep"])
    for name in ["move_left", "move_up"]:  # a little tired, it sleeps two chunks before it wakes
        before = tuple(game.info["player_pos"])
        game.step_chunk(ACTION_ID[name])
        assert game.sleeping and tuple(game.info["player_pos"]) == before, name


def test_the_player_never_walks_into_lava():
    game = CrafterGame()
    asleep, lengths = 0, []
    for seed in range(3):
        game.reset(seed)
        player = game.make_player(np.random.default_rng(seed))
        for t in range(120):
            was_asleep = game.sleeping
            action = player.act(game)
            if was_asleep:
                asleep += 1
                assert ACTION_NAMES[action] == "sleep"
            chunk = game.step_chunk(action)
            if chunk.terminated:
                assert game.env._world[game.info["player_pos"]][0] != "lava"
                break
        lengths.append(t + 1)
    assert min(lengths) >= 20


_EPISODE_DIGEST = """
import hashlib, numpy as np
from tv2tv_env.games.crafter import CrafterGame
game = CrafterGame()
digest = hashlib.sha256(game.reset(70000).tobytes())
player = game.make_player(np.random.default_rng(70000))
for _ in range(60):
    chunk = game.step_chunk(player.act(game))
    digest.update(chunk.frames.tobytes())
    if chunk.terminated:
        break
print(digest.hexdigest())
"""


def test_an_episode_is_the_same_in_every_process():
    """Crafter's chunk sets iterate by object address, so before _order_chunk_sets the same seed
    despawned different cows in different processes (different PYTHONHASHSEED was enough)."""
    import os
    import subprocess
    import sys

    digests = {subprocess.run([sys.executable, "-c", _EPISODE_DIGEST], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(s)}).stdout.strip() for s in (0, 1)}
    assert len(digests) == 1


def test_survival_script_counts_what_the_engine_did(tmp_path, monkeypatch):
    """scripts/crafter_survival.py: per setting, episode lengths in chunks and engine steps that
    agree with the frames per chunk, and an end for every episode; an episode cut at
    --max-chunks counts as alive."""
    import json
    import runpy
    import sys
    from pathlib import Path

    out = tmp_path / "survival.json"
    monkeypatch.setattr(sys, "argv", ["crafter_survival.py", "--episodes", "2", "--seed", "5", "--max-chunks", "30",
                                      "--frames-per-chunk", "2", "4", "--workers", "1", "--out", str(out)])
    runpy.run_path(str(Path(__file__).parents[1] / "scripts" / "crafter_survival.py"), run_name="__main__")
    settings = json.loads(out.read_text())["settings"]
    assert [s["frames_per_chunk"] for s in settings] == [2, 4]
    for s in settings:
        assert sum(s["ends"].values()) == s["episodes"] == 2
        for r in s["episodes_detail"]:
            assert r["chunks"] <= 30 and (r["end"] != "alive" or r["chunks"] == 30)
            # a chunk is frames_per_chunk engine steps, except after death (the engine stops)
            assert (r["chunks"] - 1) * s["frames_per_chunk"] < r["steps"] <= r["chunks"] * s["frames_per_chunk"]
