"""Games nobody here wrote: a Gymnasium env id becomes a recorded dataset, a trained `tiny`
world and a played env, with nothing but the id (ALE through ale-py, which ships its ROMs,
and MiniGrid). The envs' packages are in the `test` extra."""
import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import tv2tv_env  # noqa: F401  (registers TV2TV/World-v0)
from conftest import SHIPPED
from tv2tv_cli import main as tv2tv_main
from tv2tv_env.data.dataset import iter_episodes, read_meta
from tv2tv_env.errors import UserError
from tv2tv_env.games import get_card
from tv2tv_env.games.gym_card import ale_action, card_for_env
from tv2tv_env.games.gym_source import make_env

pytest.importorskip("ale_py", reason="ale-py (the test extra) records the ALE game")
pytest.importorskip("minigrid", reason="minigrid (the test extra) records the MiniGrid game")

ENVS = {"ALE/Pong-v5": ("ale-pong-v5", 3, 24), "MiniGrid-Empty-5x5-v0": ("minigrid-empty-5x5-v0", 4, 30)}


def test_ale_meanings_become_actions_of_parts():
    assert [ale_action(m) for m in ["NOOP", "FIRE", "UP", "UPRIGHT", "DOWNLEFTFIRE"]] == \
        ["noop", "fire", "up", "up_right", "down_left+fire"]
    assert ale_action("JUMP") is None


@pytest.fixture(scope="module", params=list(ENVS))
def world(request, tmp_path_factory):
    """Record, tokenize, encode and train a tiny world for one env id, through the command line."""
    env_id = request.param
    name, episodes, chunks = ENVS[env_id]
    root = tmp_path_factory.mktemp(name)
    data, tok, run = root / "data", root / "tok", root / "run"
    assert tv2tv_main(["record", "--env", env_id, "--episodes", str(episodes), "--max-chunks", str(chunks),
                       "--out", str(data), "--heldout", "0.34", "--quiet"]) == 0
    assert tv2tv_main(["tokenizer", "--data", str(data), "--out", str(tok), "--vocab-size", "300"]) == 0
    assert tv2tv_main(["encode", "--data", str(data), "--vae", str(SHIPPED / "vae"), "--quiet"]) == 0
    assert tv2tv_main(["train", "--data", str(data), "--out", str(run), "--config", "tiny", "--max-steps", "8",
                       "--batch-size", "4", "--tokenizer", str(tok), "--eval-every", "1000", "--no-samples",
                       "--quiet"]) == 0
    return env_id, name, data, run


@pytest.mark.slow
def test_recording_carries_the_card_the_frames_and_the_words(world):
    env_id, name, data, _ = world
    meta = read_meta(data)
    assert meta["game"] == name and meta["card"]["env_id"] == env_id
    card = get_card(name)  # registered by reading the dataset
    texts, actions, shapes = [], [], set()
    for _, ep in iter_episodes(data, "all"):
        texts += ep.text
        actions += ep.action.tolist()
        shapes.add(ep.frames.shape[1:])
        assert ep.frames.std() > 0  # real rendered frames, not blanks
    assert shapes == {(4, 64, 64, 3)}
    assert len(set(actions)) > 1  # the random player changes actions
    recorded = {p for ps in card.phrases.values() for p in ps}
    for t, a in zip(texts, actions):  # every chunk is said in its own action's words
        clauses = t.split(";")[0].split(" and ")
        assert all(c in recorded for c in clauses), t
        assert {p for p in card.action_names[a].split("+")} == \
            {next(k for k, ps in card.phrases.items() if c in ps) for c in clauses}, (t, card.action_names[a])


@pytest.mark.slow
def test_the_trained_world_plays_through_gymnasium(world):
    env_id, name, _, run = world
    assert json.loads((run / "card.json").read_text())["env_id"] == env_id
    env = gym.make("TV2TV/World-v0", checkpoint=str(run))
    assert env.unwrapped.game == name
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64, 64, 3)
    card = get_card(name)
    obs, reward, terminated, truncated, info = env.step(card.default_commands[1])
    assert obs.shape == (64, 64, 3) and np.isfinite(reward)
    env.close()


@pytest.mark.slow
def test_the_real_env_of_a_trained_world_replays_its_recording(world):
    """TV2TV/RealWorld-v0: the env's real engine behind the same spaces, its card from the
    checkpoint; a recorded episode's text replayed from its seed gives back its frames."""
    env_id, name, data, run = world
    real = gym.make("TV2TV/RealWorld-v0", checkpoint=str(run))
    assert real.unwrapped.game == name
    check_env(real.unwrapped, skip_render_check=True)
    _, ep = next(iter_episodes(data))
    obs, _ = real.reset(seed=int(ep.attrs["seed"]))
    np.testing.assert_array_equal(obs, ep.start_frame)
    for t, text in enumerate(ep.text[:10]):
        obs, reward, terminated, truncated, info = real.step(text)
        assert info["action"] == real.unwrapped.parser.names[ep.action[t]]
        np.testing.assert_array_equal(info["frames"], ep.frames[t])
        assert reward == pytest.approx(ep.reward[t])
    real.close()
    by_id = gym.make("TV2TV/RealWorld-v0", env_id=env_id)  # or straight from the env id, as recording reads it
    assert by_id.unwrapped.game == name
    by_id.close()
    with pytest.raises(UserError, match="checkpoint=DIR .* or env_id=ID"):
        gym.make("TV2TV/RealWorld-v0")


def test_an_env_without_action_names_needs_a_card_file(tmp_path):
    env = make_env("CartPole-v1")
    try:
        with pytest.raises(UserError, match="--card FILE"):
            card_for_env("CartPole-v1", env)
        f = tmp_path / "cartpole.json"
        f.write_text(json.dumps({"actions": {"push_left": ["push left", "move the cart left"],
                                             "push_right": ["push right", "move the cart right"]}}))
        card = card_for_env("CartPole-v1", env, card_file=f)
        assert card.action_names == ("push_left", "push_right") and card.default_commands == ("push left", "push right")
        f.write_text(json.dumps({"actions": {"push_left": ["push left"]}}))
        with pytest.raises(UserError, match="names 1 actions; the env has 2"):
            card_for_env("CartPole-v1", env, card_file=f)
    finally:
        env.close()


def test_record_refuses_game_and_env_together(tmp_path, capsys):
    args = ["--episodes", "1", "--max-chunks", "1", "--out"]
    assert tv2tv_main(["record", "--game", "doom", "--env", "CartPole-v1", *args, str(tmp_path / "x")]) == 2
    assert "exactly one of --game" in capsys.readouterr().err
    assert tv2tv_main(["record", "--env", "NoSuchEnv-v0", *args, str(tmp_path / "y")]) == 2
    assert "Install the package" in capsys.readouterr().err
    assert tv2tv_main(["record", "--env", "CartPole-v1", "--scenario", "x", *args, str(tmp_path / "z")]) == 2
    assert "takes no --scenario" in capsys.readouterr().err
