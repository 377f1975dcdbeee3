"""Any Gymnasium env with RGB frames as a game source (`tv2tv record --env ID`).

One kept frame is one `env.step` of the chunk's action; a chunk holds `frames_per_chunk` of
them. Its reward is the sum of the steps' rewards. The env terminating ends the episode (the
dataset's `terminated`); a time limit (truncation) stops the recording there without ending
the game (the episode's `truncated` attribute). The scripted player holds random actions for
random stretches, the way a person tries a game it does not know; the describer says the
action in the card's words and adds what the reward and the end mean: "move up and fire; you
score", "wait; the game is over".
"""
from __future__ import annotations

import numpy as np

from ..errors import UserError
from .base import Chunk, GameSource, Player, join_clauses, pick
from .card import GameCard
from .gym_card import action_space_size

HOLD_CHUNKS = (1, 8)  # the random player holds an action for 1..8 chunks


def make_env(env_id: str, env_kwargs: dict | None = None):
    """`gymnasium.make(env_id, render_mode="rgb_array")`, after registering the env families
    whose packages are installed (ALE's ids appear only once ale_py registers them)."""
    import gymnasium as gym

    try:
        import ale_py

        gym.register_envs(ale_py)
    except ImportError:
        pass
    try:
        import minigrid  # noqa: F401  (registers its envs on import)
    except ImportError:
        pass
    try:
        return gym.make(env_id, render_mode="rgb_array", **(env_kwargs or {}))
    except gym.error.Error as e:
        raise UserError(f"cannot make Gymnasium env {env_id!r}: {e}. Install the package that registers it "
                        "(for example `pip install ale-py` for ALE/..., `pip install minigrid` for MiniGrid-...)") from None
    except TypeError as e:
        raise UserError(f"cannot make {env_id!r} with render_mode='rgb_array' and {env_kwargs or {}}: {e}") from None


class GymGame(GameSource):
    """A Gymnasium env, played one chunk at a time; its words come from `card`."""

    def __init__(self, card: GameCard, height: int = 64, width: int = 64, frames_per_chunk: int = 4):
        super().__init__(height, width, frames_per_chunk)
        if not card.env_id:
            raise UserError(f"game card {card.name!r} names no Gymnasium env (env_id)")
        self.card, self.name = card, card.name
        self.action_names = list(card.action_names)
        self.button_names = list(card.button_names)
        self.variable_names = []
        self.scenario = card.env_id
        self.env = make_env(card.env_id, dict(card.env_kwargs))
        space = self.env.action_space
        self._to_env = _action_table(space)
        if len(self._to_env) != len(self.action_names):
            raise UserError(f"card {card.name!r} has {len(self.action_names)} actions; {card.env_id} has "
                            f"{len(self._to_env)} ({space})")

    def reset(self, seed: int) -> np.ndarray:
        self.env.reset(seed=int(seed) % 2**31)
        self.env.action_space.seed(int(seed) % 2**31)
        return self._frame()

    def _frame(self) -> np.ndarray:
        frame = self.env.render()
        if not (isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3):
            raise UserError(f"{self.card.env_id}.render() gave {type(frame).__name__} "
                            f"{getattr(frame, 'shape', '')}, not an RGB frame (H, W, 3)")
        return self.resize(frame.astype(np.uint8, copy=False))

    def step_chunk(self, action: int) -> Chunk:
        frames, reward, terminated, truncated = [], 0.0, False, False
        for _ in range(self.frames_per_chunk):
            if not (terminated or truncated):
                _, r, terminated, truncated, _ = self.env.step(self._to_env[action])
                reward += float(r)
                last = self._frame()
            frames.append(last)  # an episode that ends mid-chunk repeats its last frame
        # a time limit (truncated) is no end of the game: the recorder stops there, the end head
        # learns nothing from it, and the episode's `truncated` attribute says so
        events = {"reward": reward, "over": bool(terminated), "truncated": bool(truncated and not terminated)}
        return Chunk(np.stack(frames), int(action), reward, bool(terminated), events)

    def make_player(self, rng: np.random.Generator) -> Player:
        return RandomHoldPlayer(rng, len(self.action_names))

    def describe(self, chunk: Chunk, rng: np.random.Generator) -> str:
        return describe_gym(self.card, self.action_names[chunk.action], chunk.events, rng)

    def close(self) -> None:
        self.env.close()


def describe_gym(card: GameCard, action_name: str, events: dict, rng: np.random.Generator) -> str:
    """The action in the card's words, then what the reward and the end mean."""
    words = join_clauses([pick(rng, card.phrases[p]) for p in action_name.split("+")])
    tail = []
    if events.get("reward", 0) > 0:
        tail.append(pick(rng, card.event_phrases["score"]))
    elif events.get("reward", 0) < 0:
        tail.append(pick(rng, card.event_phrases["lose"]))
    if events.get("over"):
        tail.append(pick(rng, card.event_phrases["over"]))
    return words + ("; " + join_clauses(tail) if tail else "")


class RandomHoldPlayer(Player):
    """Uniform random actions, each held for a random 1..8 chunks."""

    def __init__(self, rng: np.random.Generator, n_actions: int):
        self.rng, self.n, self.action, self.left = rng, n_actions, 0, 0

    def act(self, game) -> int:
        if self.left <= 0:
            self.action = int(self.rng.integers(self.n))
            self.left = int(self.rng.integers(HOLD_CHUNKS[0], HOLD_CHUNKS[1] + 1))
        self.left -= 1
        return self.action


def _action_table(space) -> list:
    """Action id -> the env's action: Discrete ids as they are, MultiDiscrete/MultiBinary
    combinations in C order (the card's action order). `action_space_size` counts them and
    refuses any other space."""
    n, kind = action_space_size(space), type(space).__name__
    if kind == "Discrete":
        return [int(space.start) + i for i in range(n)]
    if kind == "MultiDiscrete":
        nvec = np.asarray(space.nvec).ravel()
        return [np.array(np.unravel_index(i, nvec), dtype=space.dtype).reshape(space.shape) for i in range(n)]
    k = int(np.prod(space.n))  # MultiBinary
    return [np.array([(i >> (k - 1 - b)) & 1 for b in range(k)], dtype=space.dtype).reshape(space.shape)
            for i in range(n)]
