"""Left-right mirroring of a game's labels and text, for games whose mirror image is as valid
as the original (`GameCard.mirror_symmetric`: Doom with its HUD off; not a game that draws
digits or text on screen).

A mirrored chunk is the same chunk with its frames flipped left-right, its action's "left" and
"right" swapped ("strafe_left+shoot" -> "strafe_right+shoot") and its text likewise ("sidestep
left, you kill an enemy" -> "sidestep right, you kill an enemy"). The judge reads every pair
both ways (bench/judge.py) and the world model can train on mirrored windows (`tv2tv train
--mirror P`), which gives each direction the other's examples: in Doom's recording a strafe to
one side was learned much better than to the other.
"""
from __future__ import annotations

import re

import numpy as np

from ..errors import UserError

_SIDES = {"left": "right", "right": "left", "leftward": "rightward", "rightward": "leftward",
          "clockwise": "counterclockwise", "counterclockwise": "clockwise"}
_WORD = re.compile(r"\b(" + "|".join(sorted(_SIDES, key=len, reverse=True)) + r")\b")


def mirror_name(name: str) -> str:
    """An action or button name under a left-right mirror: "turn_left" -> "turn_right"."""
    return name.replace("left", "\0").replace("right", "left").replace("\0", "right")


def mirror_permutation(names) -> np.ndarray:
    """Index map of labels under a left-right mirror: "turn_left" <-> "turn_right",
    "strafe_left+shoot" <-> "strafe_right+shoot", "move_left" <-> "move_right"; others stay."""
    names = list(names)
    return np.array([names.index(mirror_name(n)) if mirror_name(n) in names else i for i, n in enumerate(names)])


def mirror_text(text: str) -> str:
    """The text of a mirrored chunk: whole words left/right (leftward, clockwise, ...) swapped."""
    return _WORD.sub(lambda m: _SIDES[m.group(1)], text)


def check_mirror_symmetric(game: str, flag: str):
    """Refuse to mirror a game whose card does not say its mirror image is a valid frame."""
    from . import get_card

    if not get_card(game).mirror_symmetric:
        raise UserError(f"{game}'s card does not say its frames may be mirrored (mirror_symmetric); "
                        f"run {flag} without --mirror")
