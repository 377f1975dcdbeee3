"""Registry of recordable games. A new engine is one module plus one line here."""
from __future__ import annotations

from ..errors import UserError
from .base import Chunk, GameSource, Player


def _doom(**kw):
    from .doom import DoomGame
    return DoomGame(**kw)


def _crafter(**kw):
    from .crafter import CrafterGame
    return CrafterGame(**kw)


GAMES = {"doom": _doom, "crafter": _crafter}


def make_game(name: str, **kwargs) -> GameSource:
    """Build a game source by name ("doom", "crafter")."""
    if name not in GAMES:
        raise UserError(f"unknown game {name!r}; choose one of: {', '.join(GAMES)}")
    return GAMES[name](**kwargs)


__all__ = ["GAMES", "make_game", "GameSource", "Player", "Chunk"]
