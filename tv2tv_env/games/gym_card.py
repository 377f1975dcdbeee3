"""A game card for any Gymnasium env: from the env's own action names, or from a card file.

`tv2tv record --env ID` needs words for each of the env's actions. They come, in this order:
1. a card file the user wrote (`--card FILE`, JSON): `{"actions": {"name": ["phrase", ...]}}`
   in the env's action order, plus any other `GameCard` field (`idle_action`, `keys`, ...);
2. the env's own action names where it has them: ALE's `get_action_meanings()` ("UPFIRE"
   becomes the action "up+fire", said "move up and fire", "go up and shoot", ...), or an
   `actions` enum (MiniGrid: "left", "pickup", ...), each name read as words;
3. otherwise a UserError that says how to write the card file.

The card is plain data: the dataset records it (`dataset.json`), so training, the judge, the
bench and the env read a recorded env as they read Doom, without the env being registered here.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..errors import UserError
from .card import GameCard, check_card

MAX_ACTIONS = 64  # a MultiDiscrete/MultiBinary space is flattened to one id per combination
ENGINE = "tv2tv_env.games.gym_source:GymGame"
EVENT_PHRASES = {
    "score": ["you score", "you gain points"],
    "lose": ["you lose points", "you are penalised"],
    "over": ["the game is over", "the episode ends"],
}
OFF_TOPIC = ("dance", "what is the weather", "sing a song", "tell me a joke", "make me a sandwich", "hello there")

# ALE's action meanings are made of these words ("UPRIGHTFIRE"); each becomes one action part.
_ALE_WORDS = ("NOOP", "FIRE", "UP", "DOWN", "LEFT", "RIGHT")
_DIRECTION_PHRASES = {
    "up": ["move up", "go up", "head up"],
    "down": ["move down", "go down", "head down"],
    "left": ["move left", "go left", "head left"],
    "right": ["move right", "go right", "head right"],
    "up_right": ["move up-right", "go up-right", "head diagonally up-right"],
    "up_left": ["move up-left", "go up-left", "head diagonally up-left"],
    "down_right": ["move down-right", "go down-right", "head diagonally down-right"],
    "down_left": ["move down-left", "go down-left", "head diagonally down-left"],
}
_ALE_PHRASES = {"noop": ["do nothing", "wait", "stay idle"], "fire": ["fire", "shoot", "press fire"],
                **_DIRECTION_PHRASES}


def slug(env_id: str) -> str:
    """A card name for an env id: "ALE/Pong-v5" -> "ale-pong-v5" (used in file and env names)."""
    return re.sub(r"[^a-z0-9]+", "-", env_id.lower()).strip("-")


def ale_action(meaning: str) -> str | None:
    """"UPRIGHTFIRE" -> "up_right+fire", "NOOP" -> "noop"; None for a name that is no ALE meaning."""
    words = re.findall("|".join(_ALE_WORDS), meaning.upper())
    if "".join(words) != meaning.upper() or not words:
        return None
    if words == ["NOOP"]:
        return "noop"
    direction = "_".join(w.lower() for w in words if w not in ("FIRE", "NOOP"))
    parts = ([direction] if direction else []) + (["fire"] if "FIRE" in words else [])
    return "+".join(parts) if direction in _DIRECTION_PHRASES or not direction else None


def _word_phrases(name: str) -> list[str]:
    """Words for an action name with no table of its own ("pickup" -> "pickup", "pick up ..."):
    the name as words, and with "do"/"press" before it, so each action has a few wordings."""
    words = re.sub(r"[_\-]+", " ", re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)).lower().strip()
    return [words, f"do {words}", f"press {words}"]


def action_space_size(space) -> int:
    """How many action ids a Discrete, MultiDiscrete or MultiBinary space flattens to."""
    kind = type(space).__name__
    if kind == "Discrete":
        return int(space.n)
    if kind == "MultiDiscrete":
        return int(np.prod(space.nvec))
    if kind == "MultiBinary":
        return int(2 ** int(np.prod(space.n)))
    raise UserError(f"the env's action space is {space}; `tv2tv record --env` records Discrete, MultiDiscrete or "
                    "MultiBinary action spaces (a continuous env needs a wrapper that discretises it)")


def env_action_names(env) -> list[str] | None:
    """The env's own names for its actions, when it has them (ALE meanings, an `actions` enum)."""
    base = env.unwrapped
    if hasattr(base, "get_action_meanings"):
        return list(base.get_action_meanings())
    actions = getattr(base, "actions", None)
    members = getattr(actions, "__members__", None)
    if members:
        return [name for name, _ in sorted(members.items(), key=lambda kv: int(kv[1]))]
    return None


def card_for_env(env_id: str, env, env_kwargs: dict | None = None, card_file=None, height: int = 64,
                 width: int = 64, frames_per_chunk: int = 4) -> GameCard:
    """The card of a made env (its `action_space` and action names), or of the user's card file."""
    n = action_space_size(env.action_space)
    if n > MAX_ACTIONS:
        raise UserError(f"{env_id}'s action space {env.action_space} has {n} combinations; at most {MAX_ACTIONS} "
                        "can each get words (wrap the env to fewer actions)")
    extra: dict = {}
    if card_file is not None:
        phrases, extra = _read_card_file(card_file, n)
        names = list(phrases)
    else:
        own = env_action_names(env)
        if own is None or len(own) != n:
            raise UserError(
                f"{env_id} does not name its {n} actions (no get_action_meanings() or actions enum), so its "
                f"commands need words: write a card file, JSON such as "
                f'{{"actions": {{"push_left": ["push left", "move left"], "push_right": ["push right"]}}}} with one '
                f"entry per action in the env's order, and pass it with --card FILE")
        ale = [ale_action(m) for m in own]
        if all(ale):
            names = ale
            phrases = {p: list(_ALE_PHRASES[p]) for a in names for p in a.split("+")}
        else:
            names = [re.sub(r"[^a-z0-9_]+", "_", m.lower()) for m in own]
            phrases = {a: _word_phrases(m) for a, m in zip(names, own)}
    if len(set(names)) != len(names):
        raise UserError(f"{env_id}'s action names are not unique: {names}; write a card file (--card FILE)")
    idle = extra.pop("idle_action", None) or next(
        (a for a in names if a in ("noop", "idle", "nothing", "none", "wait")), names[0])
    kw = dict(
        name=slug(env_id), engine=ENGINE, action_names=tuple(names), button_names=tuple(names),
        judge_labels="action", idle_action=idle, phrases=phrases, event_phrases=EVENT_PHRASES,
        event_example={}, probe=tuple(names[:8]),
        switches=tuple((a, b) for a, b in zip(names[1:], names[2:]))[:4] or ((names[0], names[-1]),),
        off_topic=OFF_TOPIC,
        default_commands=tuple(" and ".join(phrases[p][0] for p in a.split("+")) for a in names),
        keys={}, max_parts=max(len(a.split("+")) for a in names), height=height, width=width,
        frames_per_chunk=frames_per_chunk, env_id=env_id, env_kwargs=dict(env_kwargs or {}),
    )
    kw.update(extra)
    try:
        card = GameCard(**kw)
    except TypeError as e:
        raise UserError(f"card file {card_file}: {e}") from None
    problems = check_card(card)
    if problems:
        raise UserError(f"the game card for {env_id} is not sound: {'; '.join(problems)}")
    return card


def _read_card_file(path, n: int) -> tuple[dict[str, list[str]], dict]:
    path = Path(path)
    try:
        d = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read card file {path}: {e}") from None
    actions = d.pop("actions", None) if isinstance(d, dict) else None
    if not isinstance(actions, dict) or not all(isinstance(v, list) and v and all(isinstance(p, str) for p in v)
                                                for v in actions.values()):
        raise UserError(f'card file {path} needs "actions": {{"name": ["phrase", ...], ...}}, one entry per action '
                        "in the env's order, each with at least one phrase")
    if any("+" in k for k in actions):
        raise UserError(f"card file {path}: action names may not hold '+' (each action has its own wordings)")
    if len(actions) != n:
        raise UserError(f"card file {path} names {len(actions)} actions; the env has {n}")
    for key in ("name", "engine", "action_names", "button_names", "phrases", "env_id"):
        if key in d:
            raise UserError(f"card file {path}: {key!r} comes from the env and the actions table; leave it out")
    return {k: list(v) for k, v in actions.items()}, d
