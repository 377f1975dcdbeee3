"""The registry of recordable games: one card per game (card.py), and the engine it names.

Everything outside this folder asks `get_card(name)` what it needs to know about a game
(action names, phrases, bench word lists, default commands, key bindings, frame size, the
shipped checkpoint) and `make_game(name)` for a running engine. Reading the registry imports
no engine: the card modules are plain data, and an engine module is imported only when
`make_game` (or `GameCard.engine_class`) is called.

Adding a game is one card module (`<name>_card.py`), its engine adapter where the game needs
one (`<name>.py`, a `GameSource`: see base.py), and one line in `CARDS` below.
"""
from __future__ import annotations

from ..errors import UserError
from .base import Chunk, GameSource, Player
from .card import GameCard, check_card
from .crafter_card import CARD as CRAFTER
from .doom_card import CARD as DOOM

CARDS: dict[str, GameCard] = {card.name: card for card in [DOOM, CRAFTER]}
DEFAULT_GAME = "doom"  # what `--game` defaults to; TV2TV/Doom-v0 is the shipped default model


def get_card(name: str) -> GameCard:
    """The card of a registered game; a UserError naming the known games for any other name."""
    if name not in CARDS:
        raise UserError(f"unknown game {name!r}; choose one of: {', '.join(CARDS)}")
    return CARDS[name]


def make_game(name: str, **kwargs) -> GameSource:
    """Build a game's engine adapter by name; the frame size comes from its card unless given."""
    card = get_card(name)
    sizes = {"height": card.height, "width": card.width, "frames_per_chunk": card.frames_per_chunk}
    return card.engine_class()(**{**sizes, **kwargs})


__all__ = ["CARDS", "DEFAULT_GAME", "GameCard", "check_card", "get_card", "make_game", "GameSource", "Player",
           "Chunk"]
