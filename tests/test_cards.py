"""Game cards: every registered card is sound, reading one stays light, and each agrees with its engine."""
import dataclasses
import subprocess
import sys

import pytest

from tv2tv_env.errors import UserError
from tv2tv_env.games import CARDS, check_card, get_card, make_game


@pytest.mark.parametrize("game", list(CARDS))
def test_every_registered_card_is_sound(game):
    assert check_card(get_card(game)) == []


def test_check_card_names_each_problem():
    doom = get_card("doom")
    broken = dataclasses.replace(
        doom,
        idle_action="nap",
        probe=doom.probe + ("jump",),
        default_commands=doom.default_commands + ("turn left and turn right", "dance"),
        everyday_phrases={**doom.everyday_phrases, "shoot": ["fire"]},  # a recorded phrase in a bench list
        keys={**doom.keys, "j": "jump up"},
        engine="tv2tv_env.games.doom.DoomGame",
        unresponsive_actions=("asleep",),
    )
    problems = "\n".join(check_card(broken))
    for expected in ["idle_action 'nap'", "probe action 'jump'", "'turn left and turn right' names no single action",
                     "'dance' is not made of recorded phrases", "everyday_phrases phrase 'fire'",
                     "key 'j' sends 'jump up'", "must be 'module:Class'",
                     "unresponsive action 'asleep'"]:
        assert expected in problems, (expected, problems)


def test_reading_cards_imports_no_engine_and_no_model_stack():
    """The keyboard agent, the command check and the CLI's argument lists read cards: none of
    them may start ViZDoom or load torch to do so."""
    code = ("import sys, tv2tv_env, tv2tv_env.games, tv2tv_env.commands, agents.keyboard\n"
            "[c.keys for c in tv2tv_env.games.CARDS.values()]\n"
            "print(' '.join(m for m in ('vizdoom', 'crafter', 'torch', 'diffusers', 'pygame') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unknown_game_names_the_known_ones():
    with pytest.raises(UserError, match="doom, crafter"):
        get_card("quake")


@pytest.mark.parametrize("game", list(CARDS))
def test_card_agrees_with_its_engine_adapter(game):
    card = get_card(game)
    engine = card.engine_class()
    assert engine.name == card.name
    assert list(engine.action_names) == list(card.action_names)
    assert list(engine.button_names) == list(card.button_names)


def test_make_game_takes_frame_size_from_the_card():
    card = get_card("doom")
    game = make_game("doom")
    try:
        assert game.reset(0).shape == (card.height, card.width, 3)
        assert game.step_chunk(0).frames.shape == (card.frames_per_chunk, card.height, card.width, 3)
    finally:
        game.close()
