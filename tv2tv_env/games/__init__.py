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
from .card import CARD_FILE, GameCard, check_card
from .crafter_card import CARD as CRAFTER
from .doom_card import CARD as DOOM
from .doom_take_cover_card import CARD as DOOM_TAKE_COVER

CARDS: dict[str, GameCard] = {card.name: card for card in [DOOM, CRAFTER, DOOM_TAKE_COVER]}
DEFAULT_GAME = "doom"  # every default game (`--game`, the envs, the agents); TV2TV/Doom-v0 is the shipped model
# Cards of Gymnasium envs recorded with `tv2tv record --env` (gym_card.py): not built in, they
# travel in their dataset's `dataset.json` and are registered here when it is read.
_RECORDED: dict[str, GameCard] = {}


def register_card(card: GameCard) -> GameCard:
    """Make a card that is not built in known by name (a recorded env's); a built-in name is refused."""
    if card.name in CARDS:
        if card != CARDS[card.name]:
            raise UserError(f"a card named {card.name!r} is built in; give the new game another name")
        return CARDS[card.name]
    _RECORDED[card.name] = card
    return card


def register_card_file(path) -> GameCard:
    """Register the card a checkpoint or run carries (`card.json`, written by `tv2tv train`)."""
    import json
    from pathlib import Path

    try:
        return register_card(GameCard.from_dict(json.loads(Path(path).read_text())))
    except (OSError, ValueError, TypeError) as e:
        raise UserError(f"cannot read the game card {path} ({e}); copy it again from the run that trained "
                        "the model") from None


def get_card(name: str) -> GameCard:
    """The card of a built-in or registered game; a UserError naming the known games otherwise."""
    card = CARDS.get(name) or _RECORDED.get(name)
    if card is None:
        known = ", ".join([*CARDS, *_RECORDED])
        raise UserError(f"unknown game {name!r}; choose one of: {known} (or record a Gymnasium env with "
                        "`tv2tv record --env ID`, whose dataset carries its card)")
    return card


def env_id(game: str | None, real: bool = False) -> str:
    """The Gymnasium id of a game's world, or with `real=True` of its real engine: `TV2TV/Doom-v0`,
    `TV2TV/RealCrafter-v0` for a built-in card (a name in snake case becomes CamelCase:
    "doom_take_cover" -> `TV2TV/DoomTakeCover-v0`); `TV2TV/World-v0` / `TV2TV/RealWorld-v0` for
    game=None or a game without a built-in card (a world trained on a recorded Gymnasium env,
    whose card travels in its checkpoint). tv2tv_env/__init__.py registers exactly these ids."""
    name = "".join(part.capitalize() for part in game.split("_")) if game in CARDS else "World"
    return f"TV2TV/{'Real' if real else ''}{name}-v0"


def make_game(name: str, **kwargs) -> GameSource:
    """Build a game's engine adapter by name; the frame size comes from its card unless given."""
    card = get_card(name)
    sizes = {"height": card.height, "width": card.width, "frames_per_chunk": card.frames_per_chunk}
    if card.env_id:  # the generic Gymnasium adapter is told which card it plays
        kwargs = {"card": card, **kwargs}
    return card.engine_class()(**{**sizes, **kwargs})


__all__ = ["CARDS", "CARD_FILE", "DEFAULT_GAME", "GameCard", "check_card", "env_id", "get_card", "register_card",
           "register_card_file", "make_game",
           "GameSource", "Player", "Chunk"]
