"""`tv2tv play`: the keyboard agent's table, the window's event handling, headless play to mp4."""
import gymnasium as gym
import imageio.v2 as imageio
import numpy as np
import pygame
import pytest
import torch

import tv2tv_env  # noqa: F401  (registers the envs)
from agents.keyboard import KeyboardAgent, bindings, compose
from tv2tv_env.games import CARDS
from agents.play import PANEL_WIDTH, UI_KEYS, Play, play
from tv2tv_env.games.doom import PHRASES

# The window for the shipped model at the default scale: 512x512 game view + panel, + text box.
WINDOW = (512 + PANEL_WIDTH, 512 + 48)


@pytest.fixture(scope="module")
def env():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the test machine's 2 cores are shared: two threads thrash under load
    e = gym.make("TV2TV/Doom-v0")  # the shipped default model, loads in ~2 s
    yield e
    e.close()
    torch.set_num_threads(threads)


@pytest.fixture
def session(env):
    s = Play(env, KeyboardAgent.for_env(env), steps=None)
    s.start(seed=0)
    yield s
    s.stop_recording()
    pygame.display.quit()


def key(name, up=False):
    return pygame.event.Event(pygame.KEYUP if up else pygame.KEYDOWN, key=pygame.key.key_code(name))


def typed(text):
    return pygame.event.Event(pygame.TEXTINPUT, text=text)


# --- the keyboard agent -----------------------------------------------------------------------
@pytest.mark.parametrize("keys, command", [
    (set(), ""),
    ({"w"}, "move forward"),
    ({"up"}, "move forward"),
    ({"w", "a"}, "move forward and turn left"),
    ({"a", "w"}, "move forward and turn left"),  # a fixed order, as recorded
    ({"left", "space"}, "turn left and shoot"),
    ({"a", "d"}, ""),  # opposites cancel
    ({"a", "d", "space"}, "shoot"),
    ({"w", "a", "space"}, "move forward and turn left"),  # at most two parts
    ({"q", "space"}, "strafe left and shoot"),
    ({"x", "f5"}, ""),  # unbound keys do nothing
])
def test_keys_make_doom_commands(keys, command):
    assert compose("doom", keys) == command
    agent = KeyboardAgent("doom")
    for k in keys:
        agent.press(k)
    assert agent.act() == command
    assert agent.source == ("keys" if command else "model")


def test_crafter_keys_do_one_thing_per_step():
    assert compose("crafter", {"w"}) == "move up" and compose("crafter", {"d"}) == "move right"
    assert compose("crafter", {"space"}) == "interact"
    assert compose("crafter", {"w", "space"}) == "move up"
    assert compose("crafter", {"a", "d"}) == ""


def test_tables_list_every_key_and_spare_the_window_keys():
    for game, card in CARDS.items():
        keymap = card.keys
        assert not set(keymap) & set(UI_KEYS), f"{game} binds a key the window needs"
        assert {c for _, c in bindings(game)} == set(keymap.values())
    assert bindings("doom")[0] == ("W / Up", "move forward")


def test_a_tap_between_steps_still_counts():
    agent = KeyboardAgent("doom")
    agent.press("space")
    agent.release("space")
    assert agent.act() == "shoot"
    assert agent.act() == ""


def test_typed_command_holds_until_a_key():
    agent = KeyboardAgent("doom")
    agent.press("w")
    agent.type("Turn around and run")
    assert [agent.act() for _ in range(3)] == ["Turn around and run"] * 3 and agent.source == "typed"
    agent.press("a")  # a game key ends it
    assert agent.act() == "move forward and turn left"
    agent.type("shoot")
    agent.type("")  # an empty box ends it too
    assert agent.act() == "move forward and turn left"


def test_typed_command_can_hold_n_steps():
    agent = KeyboardAgent("doom", hold=2)
    agent.type("shoot")
    assert [agent.act() for _ in range(3)] == ["shoot", "shoot", ""]


def test_unreadable_command_is_refused_readably():
    agent = KeyboardAgent("doom")
    with pytest.raises(ValueError, match="outside the action charset"):
        agent.type("tourne à gauche")
    assert agent.typed is None


# --- the window's events ----------------------------------------------------------------------
def test_typing_in_the_box(session):
    session.handle_event(key("t"))
    assert session.typing == "" and not session.advance()  # the world waits while you type
    for event in [typed("turn"), typed(" around!"), key("backspace"), key("return")]:
        session.handle_event(event)
    assert session.typing is None and session.agent.typed == "turn around"
    session.advance()
    # "around" was never recorded: the nearest recorded wording drives the chunk, and the window says so
    source, text = session.now[:2]
    assert source == "typed" and text in PHRASES["turn_left"] + PHRASES["turn_right"] and session.frames == 1
    assert any(t[0] == f"'turn around' read as '{text}'" for t in session.toasts)


def test_refused_command_shows_in_the_window_and_escape_cancels(session):
    session.handle_event(key("return"))
    session.handle_event(typed("tourne à gauche"))
    session.handle_event(key("return"))
    assert session.typing == "tourne à gauche"  # still open, to fix
    assert any("outside the action charset" in t[0] for t in session.toasts)
    session.draw()  # long messages wrap in the window instead of crashing it
    session.handle_event(key("escape"))
    assert session.typing is None and session.running and session.agent.typed is None


def test_window_keys(session, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    session.handle_event(key("w"))
    session.advance()
    assert session.now[:2] == ("keys", "move forward")
    session.handle_event(key("w", up=True))
    session.handle_event(key("p"))
    assert session.paused and not session.advance()
    session.handle_event(key("p"))
    session.handle_event(key("h"))
    assert session.help_pinned
    session.handle_event(key("f2"))
    assert session.screenshots[0].parent == tmp_path and session.screenshots[0].suffix == ".png"
    session.handle_event(key("v"))
    for _ in range(3):
        session.advance()
        session.draw()
        session.record()
    session.handle_event(key("v"))
    assert len(imageio.mimread(session.videos[0])) == 3
    start = session.episode
    session.handle_event(key("r"))
    assert session.episode == start + 1 and not session.queue
    session.handle_event(key("escape"))
    assert not session.running


def test_interactive_loop_runs_on_posted_events(env):
    pygame.display.init()
    for event in [key("t"), typed("turn around"), key("return")]:
        pygame.event.post(event)
    agent = KeyboardAgent.for_env(env)
    summary = play(env, agent, steps=2, seed=0)  # real time: 8 frames at 16 fps
    assert summary["steps"] == 2 and summary["frames"] == 8
    assert agent.source == "typed" and agent.typed == "turn around"


# --- headless ---------------------------------------------------------------------------------
def test_headless_play_writes_video_and_screenshot(env, tmp_path):
    script = tmp_path / "commands.txt"
    script.write_text("0 turn left\n4 shoot\n6 -\n9 move forward and turn left\n")
    video, png = tmp_path / "play.mp4", tmp_path / "shot.png"
    summary = play(env, headless=True, steps=12, commands=script, video=video, screenshot=png)
    assert summary["steps"] == 12 and summary["frames"] == 48
    assert summary["video"] == str(video) and summary["screenshot"] == str(png)
    assert summary["generated_frames_per_s"] > 0
    frames = imageio.mimread(video)
    assert len(frames) == 48 and frames[0].shape == (WINDOW[1], WINDOW[0], 3)
    assert np.ptp(frames[-1]) > 100  # not a blank window
    assert imageio.imread(png).shape[:2] == (WINDOW[1], WINDOW[0])


def test_episode_end_resets_and_play_goes_on(env):
    short = gym.wrappers.TimeLimit(env.unwrapped, max_episode_steps=2)
    summary = play(short, headless=True, steps=5)  # the built-in demo script
    assert summary["steps"] == 5 and summary["episodes_finished"] == 2
