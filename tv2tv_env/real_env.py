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

from .commands import check_command, command_part, normalize_command
from .games import DEFAULT_GAME, get_card, make_game
from .spaces import command_space, frame_space

class CommandParser:
    """Text -> one of the game's action ids, read as the world model reads it (`NearestWording`):
    each clause a recorded phrase, or else the nearest one in meaning by the language prior's
    sentence encoder; the clauses' parts make one of the game's actions, in either order."""

    def __init__(self, game: str):
        from model.command_encoder import shared_encoder

        from .paraphrase import NearestWording
        from .world import UNPLACED_SIMILARITY

        self.names = list(get_card(game).action_names)
        self.reader = NearestWording(game, shared_encoder(), UNPLACED_SIMILARITY)

    def parse(self, command: str) -> tuple[int | None, str]:
        """(action id or None, how): None when the command is "" or places nowhere."""
        text = command_part(normalize_command(command))  # what recorded text says happened is the engine's
        read = self.reader.read(text)  # None for "" too: no clause
        if read is None:
            return None, "player"
        name, _, exact = read
        return self.names.index(name), "words" if exact else "nearest"


class RealGameEnv(gym.Env):
    """A recorded game's real engine, one chunk a step, behind the world model's spaces.

    `reset(seed=s)` starts the engine exactly as recording episode seed `s` did, so replaying
    a recorded episode's text from its seed gives back its frames."""

    metadata = {"render_modes": ["rgb_array"]}  # and render_fps, the game card's (set per env)

    def __init__(self, game: str | None = DEFAULT_GAME, render_mode: str | None = None, checkpoint=None,
                 env_id: str | None = None, env_kwargs: dict | None = None, card=None, **engine_kwargs):
        """game: a game card's name. game=None (`TV2TV/RealWorld-v0`): the game of `checkpoint`
        (a world trained on a recorded Gymnasium env carries its card), or of Gymnasium `env_id`
        (its card from `card`, a JSON card file, or the env's own action names, as recording does)."""
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r} is not one of {self.metadata['render_modes']}")
        if game is None:
            game = real_game(checkpoint, env_id, env_kwargs, card)
        self.game, self.render_mode = game, render_mode
        self.metadata = {**self.metadata, "render_fps": get_card(game).render_fps}
        self.source = make_game(game, **engine_kwargs)
        self.parser = CommandParser(game)
        self.action_space = command_space()
        self.observation_space = frame_space((self.source.height, self.source.width, 3))
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


def real_game(checkpoint=None, env_id=None, env_kwargs=None, card=None) -> str:
    """The game card name behind a checkpoint or a Gymnasium env id (registering its card)."""
    import json
    from pathlib import Path

    from . import games
    from .errors import UserError
    from .games import CARD_FILE, register_card_file

    if (checkpoint is None) == (env_id is None):  # (env_id here is the Gymnasium env's id, not games.env_id)
        raise UserError(f"{games.env_id(None, real=True)} needs checkpoint=DIR (a world trained on a Gymnasium env) or "
                        "env_id=ID (any Gymnasium env, as `tv2tv record --env ID` records it)")
    if env_id is not None:
        from .data.record import env_card

        return env_card(env_id, env_kwargs, card).name
    root = Path(checkpoint)
    if (root / CARD_FILE).is_file():
        return register_card_file(root / CARD_FILE).name
    for cfg in [root / "model" / "config.json", root / "ckpt" / "model" / "config.json"]:
        if cfg.is_file():
            return json.loads(cfg.read_text())["game"]
    raise UserError(f"{root} is no checkpoint: it has neither {CARD_FILE} nor model/config.json")
