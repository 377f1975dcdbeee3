"""Describers: the text says what the buttons did and what happened, in varied words."""
import numpy as np

from tv2tv_env.games.crafter import describe_crafter
from tv2tv_env.games.doom import PHRASES, describe_doom


def texts(action, events, n=200):
    rng = np.random.default_rng(0)
    return {describe_doom(action, events, rng) for _ in range(n)}


def test_paraphrases_vary_and_keep_meaning():
    out = texts("turn_left", {})
    assert len(out) == len(PHRASES["turn_left"])
    assert all("left" in t for t in out)


def test_combined_buttons_and_events():
    out = texts("strafe_right+shoot", {"kills": 1})
    assert all(";" in t for t in out)
    assert any(t.startswith(("strafe right", "sidestep right", "slide right", "step to the right")) for t in out)
    assert any(t.startswith(("shoot", "fire", "open fire", "pull the trigger")) for t in out)  # order varies


def test_blocked_move_and_coasting():
    assert all(("wall" in t or "blocks" in t) for t in texts("forward", {"blocked": True}))
    assert texts("idle", {"coasting": True}) <= {"coast to a stop", "slide to a halt", "drift to a stop"}
    assert texts("idle", {}) == set(PHRASES["idle"])


def test_several_kills_and_death():
    assert all("2" in t for t in texts("shoot", {"kills": 2}))
    assert all(("die" in t or "killed" in t) for t in texts("forward", {"died": True, "damage": 10}))


def test_crafter_events():
    rng = np.random.default_rng(0)
    t = describe_crafter("do", {"gained": {"wood": 1}, "achievements": ["collect_wood"]}, rng)
    assert "wood" in t and ("achievement" in t or "unlock" in t)
    assert "die" in describe_crafter("noop", {"died": True, "health": -2}, rng) or "dead" in \
        describe_crafter("noop", {"died": True, "health": -2}, rng)
