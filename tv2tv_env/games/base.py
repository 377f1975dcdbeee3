"""The small interface every recorded game's engine adapter implements.

A game source runs a real engine headless and plays it chunk by chunk: one action is held
for `frames_per_chunk` kept frames. It owns what needs the engine: a scripted player, and a
describer that turns a chunk's buttons and events into English with the phrases of the
game's card (card.py: the game as data, which the rest of the project reads).

Adding a game:
1. a card module, `games/<name>_card.py`: its action names and phrases, events, judge labels,
   default commands, key bindings, frame size, and `engine="tv2tv_env.games.<name>:<Class>"`;
2. an engine adapter, `games/<name>.py`: a `GameSource` subclass (reset, step_chunk,
   make_player, describe; `describer_samples` for the tokenizer corpus) that imports its
   engine only when built, so that the card stays cheap to read;
3. one line in `CARDS` in `tv2tv_env/games/__init__.py`.
tests/test_cards.py then checks the card (`check_card`) and that reading it stays light.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np
from PIL import Image


@dataclass
class Chunk:
    """What happened during one chunk of play."""

    frames: np.ndarray  # (frames_per_chunk, H, W, 3) uint8, the frames seen while the action was held
    action: int  # index into the game's `action_names`
    reward: float  # summed over the chunk (the game's reward definition, see its module)
    terminated: bool  # the episode ended during this chunk (death, goal)
    events: dict = field(default_factory=dict)  # game events, JSON-serialisable (kills, pickups...)
    variables: np.ndarray | None = None  # float32 game variables at the chunk's end


class Player(abc.ABC):
    """A policy that plays the real engine while recording (not a text agent)."""

    @abc.abstractmethod
    def act(self, game: "GameSource") -> int:
        """Return the action id to hold for the next chunk."""


class GameSource(abc.ABC):
    """A real engine, played one chunk at a time."""

    name: str = ""
    action_names: list[str] = []  # the discrete actions a chunk can hold
    button_names: list[str] = []  # multi-label view of an action (for judges); see `buttons`
    variable_names: list[str] = []  # what `Chunk.variables` holds

    def __init__(self, height: int = 64, width: int = 64, frames_per_chunk: int = 4):
        self.height, self.width, self.frames_per_chunk = height, width, frames_per_chunk

    @abc.abstractmethod
    def reset(self, seed: int) -> np.ndarray:
        """Start a new episode; return its first frame (H, W, 3) uint8."""

    @abc.abstractmethod
    def step_chunk(self, action: int) -> Chunk:
        """Hold `action` for one chunk and return what happened."""

    @abc.abstractmethod
    def make_player(self, rng: np.random.Generator) -> Player:
        """A scripted player for one episode (it may mix in random play)."""

    @abc.abstractmethod
    def describe(self, chunk: Chunk, rng: np.random.Generator) -> str:
        """English for the chunk, with a paraphrase drawn from `rng`."""

    @classmethod
    def describer_samples(cls, samples: int, rng: np.random.Generator) -> list[str]:
        """`samples` descriptions of random actions and events, as `describe` would write them:
        the tokenizer's corpus (data/text_corpus.py) besides every card phrase once. A game whose
        describer only ever writes its card's phrases may keep this default (none)."""
        return []

    def buttons(self, action: int) -> np.ndarray:
        """Multi-hot over `button_names` for an action id (one-hot unless overridden)."""
        out = np.zeros(len(self.button_names), np.uint8)
        out[action] = 1
        return out

    def close(self) -> None:
        pass

    def resize(self, frame: np.ndarray) -> np.ndarray:
        """Engine frame -> (H, W, 3) uint8; box filter, the cheapest one that does not alias."""
        if frame.shape[0] == self.height and frame.shape[1] == self.width:
            return np.ascontiguousarray(frame)
        img = Image.fromarray(frame).resize((self.width, self.height), Image.BOX)
        return np.array(img)  # a writable copy: RL libraries turn observations into tensors in place


def pick(rng: np.random.Generator, options: list[str]) -> str:
    """One paraphrase out of several, so the model learns meanings, not one fixed wording."""
    return options[int(rng.integers(len(options)))]


def join_clauses(parts: list[str]) -> str:
    """["move forward", "shoot"] -> "move forward and shoot"; three or more get commas."""
    parts = [p for p in parts if p]
    if len(parts) <= 2:
        return " and ".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
