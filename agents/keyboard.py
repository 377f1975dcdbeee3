"""Keyboard agent: the keys a person holds become a command string, or a typed command holds.

Keys are pygame key names ("w", "up", "space", ...), so this module needs no window and the
tests drive it with plain sets. Each game's card (`keys`) maps one key to one command part,
in the recorded wording; `agents/play.py` draws its key list from the same table.

Held keys combine in the table's order, joined with " and " ("move forward and turn left"),
at most the card's `max_parts` parts (Doom: two, the most any recorded chunk holds; Crafter:
one, it does one thing per step). Opposites cancel (A + D turns neither way). No key: "" (the
model decides what happens and writes its own text). A key tapped between two steps still
counts for the next step, so a quick tap on Space shoots.

A typed command (`type("turn around and run")`) overrides the keys. By default it holds
until the player presses a bound key or types another command (typing "" ends it); with
`hold=N` it lasts N steps and then the keys (or the model) take over again.
"""
from __future__ import annotations

from tv2tv_env.commands import check_command
from tv2tv_env.games import CARDS, DEFAULT_GAME, get_card

from .base import TextAgent

# How key names read on screen ("Space", not "space"; arrows as words).
KEY_LABELS = {"up": "Up", "down": "Down", "left": "Left", "right": "Right", "space": "Space", "tab": "Tab"}


def key_label(key: str) -> str:
    return KEY_LABELS.get(key, key.upper())


def bindings(game: str) -> list[tuple[str, str]]:
    """[("W / Up", "move forward"), ...]: the table grouped by command, for display."""
    grouped: dict[str, list[str]] = {}
    for key, command in get_card(game).keys.items():
        grouped.setdefault(command, []).append(key_label(key))
    return [(" / ".join(keys), command) for command, keys in grouped.items()]


def compose(game: str, keys) -> str:
    """The command that a set of held keys sends: '' when none (or only opposites) are held."""
    card = get_card(game)
    wanted = {card.keys[k] for k in keys if k in card.keys}
    for a, b in card.opposites:
        if a in wanted and b in wanted:
            wanted -= {a, b}
    order = list(dict.fromkeys(card.keys.values()))
    parts = [c for c in order if c in wanted][:card.max_parts]
    return " and ".join(parts)


class KeyboardAgent(TextAgent):
    """`press`/`release` key names as the window reports them; `type` a command; `act` once per step.

    `source` says where the last command came from: "keys", "typed" or "model" (nothing held).
    """

    def __init__(self, game: str = DEFAULT_GAME, hold: int | None = None):
        with_keys = [name for name, card in CARDS.items() if card.keys]
        if game not in with_keys:
            raise ValueError(f"no keyboard table for game {game!r}; known: {', '.join(with_keys)}")
        if hold is not None and hold < 1:
            raise ValueError(f"hold={hold}: a typed command holds for at least one step (or None: until a key)")
        self.game, self.keymap, self.hold = game, dict(CARDS[game].keys), hold
        self.held: set[str] = set()
        self.tapped: set[str] = set()  # pressed since the last step, even if released since
        self.typed: str | None = None
        self.typed_left: int | None = None
        self.source = "model"

    @classmethod
    def for_env(cls, env, hold: int | None = None) -> "KeyboardAgent":
        return cls(env.unwrapped.world.game, hold)

    def bindings(self) -> list[tuple[str, str]]:
        return bindings(self.game)

    # --- input ----------------------------------------------------------------------------
    def press(self, key: str) -> bool:
        """A key went down. Returns whether it is bound; a bound key ends a typed command."""
        if key not in self.keymap:
            return False
        self.held.add(key)
        self.tapped.add(key)
        self.typed = self.typed_left = None
        return True

    def release(self, key: str) -> None:
        self.held.discard(key)

    def release_all(self) -> None:
        """The window lost focus: its key-up events will never come, so forget what was held."""
        self.held.clear()
        self.tapped.clear()

    def type(self, command: str) -> None:
        """Send `command` from now on instead of the keys (see the module doc for how long).
        Raises TypeError/ValueError, with a readable message, for what the model cannot read."""
        command = check_command(command).strip()
        self.typed = command or None
        self.typed_left = self.hold if command else None

    # --- output ---------------------------------------------------------------------------
    def peek(self) -> tuple[str, str]:
        """(command, source) that `act` would send now, without using up anything."""
        if self.typed is not None:
            return self.typed, "typed"
        command = compose(self.game, self.held | self.tapped)
        return command, "keys" if command else "model"

    def reset(self, obs=None, info=None) -> None:
        self.tapped.clear()  # held keys stay held across an episode boundary

    def act(self, obs=None, info=None) -> str:
        command, self.source = self.peek()
        self.tapped.clear()
        if self.typed is not None and self.typed_left is not None:
            self.typed_left -= 1
            if self.typed_left == 0:
                self.typed = self.typed_left = None
        return command
