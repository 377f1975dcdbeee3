"""The small interface every recorded game implements.

A game source runs a real engine headless and plays it chunk by chunk: one action is held
for `frames_per_chunk` kept frames. It also owns what is game-specific about a recording:
its action vocabulary, a scripted player and a describer that turns a chunk's buttons and
events into English. Adding an engine means one new module with a `GameSource` subclass,
registered in `tv2tv_env/games/__init__.py`.
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
