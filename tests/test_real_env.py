"""`TV2TV/RealDoom-v0`: the real engine behind the world model's spaces."""
import gymnasium as gym
import numpy as np
import pytest

import tv2tv_env  # noqa: F401
from tv2tv_env.data.dataset import iter_episodes
from tv2tv_env.real_env import CommandParser
from tv2tv_env.wrappers import DiscreteTextActions


@pytest.fixture(scope="module")
def real_doom():
    env = gym.make("TV2TV/RealDoom-v0")
    yield env
    env.close()


def test_commands_parse_into_the_games_actions():
    doom = CommandParser("doom")
    name = lambda text: (doom.names[doom.parse(text)[0]], doom.parse(text)[1])  # noqa: E731
    assert name("Turn left and shoot") == ("turn_left+shoot", "words")
    assert name("fire and turn left") == ("turn_left+shoot", "words")  # either order, as recorded
    assert name("move forward but a wall is in the way; you take damage") == ("forward", "words")
    assert name("coast to a stop") == ("idle", "words")
    assert name("spin left") == ("turn_left", "nearest")  # a new word, read as the nearest recorded wording
    assert doom.parse("") == (None, "player") and doom.parse("what is the weather") == (None, "player")
    crafter = CommandParser("crafter")
    assert crafter.names[crafter.parse("craft a wood pickaxe")[0]] == "make_wood_pickaxe"


def test_the_real_engine_and_the_world_model_read_commands_alike(tiny_run):
    """One reader for both worlds: the same text reaches the same action, and text that the
    world model cannot place is the scripted player's turn in the engine."""
    from tv2tv_env.games import get_card
    from tv2tv_env.games.doom import EVERYDAY_PHRASES, PHRASES, UNSEEN_PHRASES
    from tv2tv_env.world import WorldModel

    world, parser = WorldModel(tiny_run, game="doom"), CommandParser("doom")
    commands = list(get_card("doom").off_topic) + [p for d in (PHRASES, UNSEEN_PHRASES, EVERYDAY_PHRASES) for ps in d.values()
                                    for p in ps]
    # "make me a sandwich and jump": off-topic as a whole, though "jump" alone lands near "move backward"
    commands += ["turn left and shoot", "spin left and fire your gun", "make me a sandwich and jump"]
    for text in commands:
        _, _, how, wording = world.interpret_command(text)
        act, parsed_how = parser.parse(text)
        if how == "unplaced":
            assert act is None and parsed_how == "player", text
            continue
        assert act is not None, text
        if how == "nearest":  # the world drew it as a recorded wording: the engine plays that wording's action
            assert act == parser.parse(wording)[0], (text, wording)
        # "words": recorded words the model reads by their tokens ("take a step back"); the
        # engine needs one action and takes the nearest recorded phrase's


def test_real_doom_passes_the_checkers(real_doom):
    from gymnasium.utils.env_checker import check_env

    check_env(real_doom.unwrapped)
    assert real_doom.observation_space == gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    sb3 = pytest.importorskip("stable_baselines3.common.env_checker", reason="stable-baselines3 (extra `rl`) missing")
    sb3.check_env(DiscreteTextActions(real_doom.unwrapped), warn=True)


def test_a_recorded_episode_replays_from_its_text(doom_data):
    """Reset a fresh env with a recorded episode's seed, step its recorded text: its frames come
    back. (After a long episode of other play in the same engine, the first chunk of the next
    MAP01 episode can differ in about 1% of its pixels: engine state that `reset` does not clear.)"""
    real_doom = gym.make("TV2TV/RealDoom-v0")
    for _, ep in list(iter_episodes(doom_data))[:2]:  # one per scenario
        obs, info = real_doom.reset(seed=int(ep.attrs["seed"]))
        np.testing.assert_array_equal(obs, ep.start_frame)
        for t, text in enumerate(ep.text):
            obs, reward, terminated, truncated, info = real_doom.step(text)
            assert info["action"] == real_doom.unwrapped.parser.names[ep.action[t]] and info["read_as"] == "words"
            np.testing.assert_array_equal(info["frames"], ep.frames[t])
            assert reward == pytest.approx(ep.reward[t]) and terminated == bool(ep.terminated[t])
            assert info["text"]  # the recorder's describer, in recorded words
    real_doom.close()


def test_an_empty_command_lets_the_games_player_choose(real_doom):
    real_doom.reset(seed=3)
    obs, reward, terminated, truncated, info = real_doom.step("")
    assert info["read_as"] == "player" and info["thought"] and info["text"] and obs.shape == (64, 64, 3)
    with pytest.raises(ValueError, match="charset"):
        real_doom.step("tourner à gauche")
