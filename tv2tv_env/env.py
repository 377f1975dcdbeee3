"""`TV2TV/Doom-v0` and `TV2TV/Crafter-v0`: the world model as a Gymnasium environment.

The action is a command string ("turn left and shoot"; "" lets the model write its own);
the observation is the last frame of the generated chunk. Every step generates one chunk
(4 frames, a quarter of a second of play) with the streaming sampler.

    import gymnasium as gym, tv2tv_env
    env = gym.make("TV2TV/Doom-v0")          # the shipped default model
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("turn left")
    info["frames"]   # the whole chunk, (4, 64, 64, 3) uint8

Reward and `terminated` come from the model's heads (predicted reward; predicted episode
end above `end_threshold`); truncation comes from the `TimeLimit` that `gymnasium.make` adds.
Commands are lower-cased and their spaces collapsed, as the recorded text was. With a
language prior (the shipped model has one) a command with words recording never used is
read by its meaning: each clause as the recorded wording nearest to it by a frozen sentence
encoder ("spin left" -> "rotate left"), and text the model cannot place ("what is the
weather") lets the model decide the chunk. `info["read_as"]` says which, and `info["text"]`
is the wording that drew the chunk (`WorldModel.interpret_command`).

Options: those of the world (`WorldOptions` in world.py: checkpoint, device, guidance,
sampling_steps, context_chunks, precision, temperature, unknown_words, imagined_events,
contexts, cache, distilled), passed on to `WorldModel`, and the env's own (`ENV_OPTIONS`).

For RL in imagination: `contexts=FILE` starts episodes from other real starts (many of them:
`tv2tv contexts --split train --per-episode 8 --max-contexts 2000 --out FILE`), the episode
length is `max_episode_steps`, `imagined_events=True` lets the model write the events it
expects after each command ("; an enemy dies"), which its reward head reads (README, "RL"),
and `frames="last"` decodes only the observed frame (`info["frames"]` then holds just it).
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from .games import DEFAULT_GAME, get_card
from .render import Window, captioned
from .spaces import command_space, frame_space
from .world import WorldModel, WorldOptions

# What the single env takes itself; every other keyword goes to the world (`WorldOptions`).
ENV_OPTIONS = ("render_mode", "render_scale", "captions", "end_threshold", "frames", "world")
FRAMES = ("all", "last")  # what info["frames"] holds: every frame of a chunk, or only the observed one


def load_world(world: WorldModel | None, game: str | None, world_options: dict, owner: str,
               own_options=ENV_OPTIONS) -> WorldModel:
    """The env's world: `world` as given (one loaded model shared by several envs), or a new one
    of `world_options`; an unknown option is a TypeError naming it and listing the known ones."""
    options = WorldOptions.from_kwargs({"game": game, **world_options}, owner, own_options)
    if world is None:
        return WorldModel(**vars(options))
    if world_options:
        raise TypeError(f"{owner} got world={world!r} and world options ({', '.join(world_options)}): a loaded "
                        f"WorldModel has its options already; pass them to WorldModel(...) instead")
    return world


def check_frames(frames: str) -> bool:
    """Whether only the last frame of a chunk is decoded (frames="last")."""
    if frames not in FRAMES:
        raise ValueError(f"frames={frames!r}: 'all' (every frame of a chunk in info['frames']) or 'last' "
                         f"(only the observation is decoded: faster)")
    return frames == "last"


def torch_generator(rng: np.random.Generator) -> torch.Generator:
    """The sampler's noise, drawn from the env's seeded numpy generator (same seed, same rollout)."""
    return torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))


class TV2TVEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array", "human"]}  # and render_fps, the game card's (set per env)

    def __init__(self, game: str | None = DEFAULT_GAME, render_mode: str | None = None, render_scale: int = 4,
                 captions: bool = True, end_threshold: float = 0.5, frames: str = "all",
                 world: WorldModel | None = None, **world_options):
        """`game` and `world_options`: the world's options (`WorldOptions`); `world`: an already
        loaded `WorldModel` to play instead (then no world options)."""
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r} is not one of {self.metadata['render_modes']}")
        self.last_frame_only = check_frames(frames)
        self.world = load_world(world, game, world_options, "TV2TVEnv")
        self.metadata = {**self.metadata, "render_fps": get_card(self.world.game).render_fps}
        self.action_space = command_space()
        self.observation_space = frame_space(self.world.frame_shape)
        self.end_threshold, self.render_mode = end_threshold, render_mode
        self.render_scale, self.captions = render_scale, captions
        self._window = None
        self._frames = self._text = None
        self._thought = False

    @property
    def game(self) -> str:
        return self.world.game

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = options or {}
        start = options.get("start")
        if start is None:
            start = int(self.np_random.integers(len(self.world)))
        self._generator = torch_generator(self.np_random)
        prompt = options.get("prompt")
        frames = self.world.reset([int(start)], [prompt] if prompt else None)[0]
        frames = frames[-1:] if self.last_frame_only else frames
        self._frames, self._text, self._thought = frames, str(self.world.contexts.texts[start][-1]), False
        info = {"text": self._text, "frames": frames, "thought": False, "reward": 0.0, "end_prob": 0.0,
                "start": int(start)}
        if self.render_mode == "human":
            self.render()
        return frames[-1], info

    def step(self, action):
        if self._frames is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        out = self.world.step([action], [self._generator], last_frame_only=self.last_frame_only)
        frames, reward, end = out.frames[0], float(out.reward[0]), float(out.end_prob[0])
        self._frames, self._text, self._thought = frames, out.texts[0], out.thought[0]
        info = {"text": out.texts[0], "frames": frames, "thought": out.thought[0], "reward": reward, "end_prob": end,
                "read_as": out.read_as[0]}
        if self.render_mode == "human":
            self.render()
        return frames[-1], reward, end > self.end_threshold, False, info

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() without a render_mode; make the env with render_mode='rgb_array' or 'human'")
            return None
        if self._frames is None:
            raise gym.error.ResetNeeded("call reset() before render()")
        text = self._text if self.captions else None
        if self.render_mode == "rgb_array":
            return captioned(self._frames[-1], text, self.render_scale, self._thought)
        if self._window is None:
            self._window = Window("TV2TV Gym", self.metadata["render_fps"])
        for frame in self._frames:  # the whole chunk, at the game's frame rate
            self._window.show(captioned(frame, text, self.render_scale, self._thought))
        return None

    def close(self):
        if self._window is not None:
            self._window.close()
            self._window = None
