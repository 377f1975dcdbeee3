"""`TV2TV/RealDoom-v0` and `TV2TV/RealCrafter-v0`: the real engine behind the world model's interface.

The same spaces as `TV2TV/Doom-v0`: the action is a command string, the observation the last
64x64 frame of a chunk (4 frames, a quarter second). Here the command is parsed into one of
the game's recorded actions by the game's own phrases and held for a chunk of the real
engine, with the engine's reward summed over the chunk and its real termination. So one
policy (for example behind `DiscreteTextActions`) runs unchanged in the dream and in the game.

    import gymnasium as gym, tv2tv_env
    env = gym.make("TV2TV/RealDoom-v0")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("turn left and shoot")
    info["action"], info["text"]     # 'turn_left+shoot', 'turn left and shoot; the shot hits'

How a command is read (`info["read_as"]`): "words" when each clause is a recorded phrase
("sidestep left and fire"), "nearest" when a clause has words recording never used and is read
as the recorded wording nearest in meaning (the world model's reading, `NearestWording`), and
"player" for "" or text that places nowhere: the game's scripted player (the recorder's)
chooses, as the world model writes its own text for "". `info["text"]` is the recorder's
description of what happened, in the words the world model was trained on.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .commands import check_command, normalize_command
from .env import command_space
from .games import make_game
from .paraphrase import CLAUSE_SPLIT, game_module

# What a command may carry after its action ("move forward but a wall is in the way; an
# enemy dies" in recorded text): events the engine decides, not the player.
EVENT_TAIL = (";", " but ")


class CommandParser:
    """Text -> one of the game's action ids, by the phrases its recorder uses.

    Each clause names one part of an action ("turn left", "shoot"); the parts make up a combined
    action ("turn_left+shoot") in either order. Parts the game never combines keep the first
    clause's action. A clause with words recording never used is read as the nearest recorded
    wording by the language prior's sentence encoder (loaded on first need)."""

    def __init__(self, game: str):
        mod = game_module(game)
        self.game, self.names = game, list(mod.ACTION_NAMES)
        idle = "idle" if "idle" in self.names else self.names[0]
        self.part_of = {}  # recorded phrase -> the action part it names
        for part, phrases in mod.PHRASES.items():
            for p in phrases:
                self.part_of[p] = idle if part == "coast" else part  # "coast to a stop": nothing pressed
        self.by_parts = {frozenset(n.split("+")): i for i, n in enumerate(self.names)}
        self._nearest = None

    def parse(self, command: str) -> tuple[int | None, str]:
        """(action id or None, how): None when the command is "" or places nowhere."""
        text = normalize_command(command)
        for mark in EVENT_TAIL:
            text = text.split(mark)[0]
        clauses = [c for c in CLAUSE_SPLIT.split(text) if c]
        if not clauses:
            return None, "player"
        how = "words"
        if any(c not in self.part_of for c in clauses):
            wording = self.nearest.read(" and ".join(clauses))
            if wording is None:
                return None, "player"
            clauses, how = wording.split(" and "), "nearest"
        parts = [self.part_of[c] for c in clauses if c in self.part_of]
        if not parts:
            return None, "player"
        moves = frozenset(parts) - {"idle"} or frozenset(parts)
        return self.by_parts.get(moves, self.names.index(parts[0])), how

    @property
    def nearest(self):
        if self._nearest is None:
            from model.command_encoder import shared_encoder

            from .paraphrase import NearestWording
            from .world import UNPLACED_SIMILARITY

            self._nearest = NearestWording(self.game, shared_encoder(), UNPLACED_SIMILARITY)
        return self._nearest


class RealGameEnv(gym.Env):
    """A recorded game's real engine, one chunk a step, behind the world model's spaces.

    `reset(seed=s)` starts the engine exactly as recording episode seed `s` did, so replaying
    a recorded episode's text from its seed gives back its frames."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 16}

    def __init__(self, game: str = "doom", render_mode: str | None = None, **engine_kwargs):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r} is not one of {self.metadata['render_modes']}")
        self.game, self.render_mode = game, render_mode
        self.source = make_game(game, **engine_kwargs)
        self.parser = CommandParser(game)
        self.action_space = command_space()
        self.observation_space = spaces.Box(0, 255, (self.source.height, self.source.width, 3), np.uint8)
        self._frames = self._rng = self._player = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        episode_seed = int(seed if seed is not None else self.np_random.integers(2**31))
        frame = self.source.reset(episode_seed)
        self._rng = np.random.default_rng(episode_seed)  # the recorder's: its player and describer draw from it
        self._player = self.source.make_player(self._rng)
        self._frames = np.repeat(frame[None], self.source.frames_per_chunk, 0)
        return frame, {"frames": self._frames, "text": "", "seed": episode_seed}

    def step(self, action):
        if self._frames is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        check_command(action)
        act, how = self.parser.parse(action)
        if act is None:
            act = self._player.act(self.source)
        chunk = self.source.step_chunk(act)
        self._frames = chunk.frames
        info = {"frames": chunk.frames, "text": self.source.describe(chunk, self._rng), "action": self.parser.names[act],
                "read_as": how, "thought": how == "player", "events": chunk.events}
        return chunk.frames[-1], float(chunk.reward), bool(chunk.terminated), False, info

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() without a render_mode; make the env with render_mode='rgb_array'")
            return None
        if self._frames is None:
            raise gym.error.ResetNeeded("call reset() before render()")
        return self._frames[-1]

    def close(self):
        self.source.close()
