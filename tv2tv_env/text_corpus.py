"""Text to train the tokenizer on: what the describer of a game can write.

The corpus comes from the describer itself (`describe_doom`, `describe_crafter`) run on
random actions and random event dicts, plus every recording paraphrase and event phrase
on its own, so every wording in `PHRASES` / `EVENT_PHRASES` is in it. `UNSEEN_PHRASES`
are never used: the benchmark tests wordings the model (and its tokenizer) never saw.
"""
from __future__ import annotations

import numpy as np

from .errors import UserError

GAMES = ("doom", "crafter")


def describer_corpus(game: str, samples: int = 20000, seed: int = 0) -> list[str]:
    """Sentences the describer of `game` can produce: each paraphrase once, then `samples`
    random descriptions (with repeats, so common wordings count more in BPE training)."""
    if game == "doom":
        return _doom(samples, np.random.default_rng(seed))
    if game == "crafter":
        return _crafter(samples, np.random.default_rng(seed))
    raise UserError(f"unknown game {game!r}; choose one of: {', '.join(GAMES)}")


def _all_phrases(phrases: dict, events: dict, fill: dict) -> list[str]:
    out = [p for ps in phrases.values() for p in ps]
    for ps in events.values():
        out += [p.format(**fill) for p in ps]
    return out


def _doom(samples: int, rng: np.random.Generator) -> list[str]:
    from .games.doom import ACTION_NAMES, EVENT_PHRASES, PHRASES, describe_doom

    out = _all_phrases(PHRASES, EVENT_PHRASES, {"n": 2})
    for _ in range(samples):
        action = ACTION_NAMES[int(rng.integers(len(ACTION_NAMES)))]
        r = rng.random(7)
        events = {
            "kills": int(rng.integers(1, 5)) if r[0] < 0.15 else 0,
            "hits": int(rng.integers(1, 4)) if r[1] < 0.2 else 0,
            "items": 1 if r[2] < 0.1 else 0,
            "damage": int(rng.integers(1, 30)) if r[3] < 0.15 else 0,
            "blocked": bool(r[4] < 0.2),
            "coasting": bool(r[5] < 0.3),
            "died": bool(r[6] < 0.03),
        }
        out.append(describe_doom(action, events, rng))
    return out


def _crafter(samples: int, rng: np.random.Generator) -> list[str]:
    from .games.crafter import ACTION_NAMES, EVENT_PHRASES, INVENTORY, PHRASES, describe_crafter

    try:
        from crafter.constants import achievements
    except ImportError:  # pragma: no cover - crafter is a core dependency
        achievements = [a for a in ACTION_NAMES if a.startswith(("make_", "place_"))]
    items = INVENTORY[4:]  # what can be gained or spent (health, food, drink, energy are stats)
    out = _all_phrases(PHRASES, EVENT_PHRASES, {"n": 1, "item": "wood", "name": "collect wood"})
    for _ in range(samples):
        action = ACTION_NAMES[int(rng.integers(len(ACTION_NAMES)))]
        r = rng.random(5)
        events = {
            "gained": {items[int(rng.integers(len(items)))]: int(rng.integers(1, 3))} if r[0] < 0.3 else {},
            "spent": {items[int(rng.integers(len(items)))]: int(rng.integers(1, 3))} if r[1] < 0.15 else {},
            "achievements": [achievements[int(rng.integers(len(achievements)))]] if r[2] < 0.1 else [],
            "health": int(rng.choice([-2, -1, 1])) if r[3] < 0.3 else 0,
            "died": bool(r[4] < 0.03),
        }
        out.append(describe_crafter(action, events, rng))
    return out
