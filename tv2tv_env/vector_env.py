"""Many TV2TV worlds stepped as one batch: `gymnasium.make_vec("TV2TV/Doom-v0", num_envs=8)`.

One model call generates a chunk for every sub-env (one batched sampler, one KV cache), which
is what makes a vector env faster than N copies of the single env. Sub-env i seeded with
`seed + i` plays the same rollout as `gymnasium.make(...).reset(seed=seed + i)` would (up to
float rounding of the batched math).

`frames="last"` decodes only each chunk's last frame, the observation: at 32 streams the VAE
decode was three quarters of a step (`tv2tv speed --breakdown 32`), and RL needs no more;
`info["frames"]` then holds that one frame per sub-env.

Autoreset follows Gymnasium's default (`AutoresetMode.NEXT_STEP`): after a sub-env
terminates or is truncated, its next `step` ignores the action, starts it from a new context
and returns that first observation with reward 0.
"""
from __future__ import annotations

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from .commands import check_command
from .env import check_frames, load_world, torch_generator
from .games import DEFAULT_GAME, get_card
from .render import captioned
from .spaces import command_space, frame_space
from .world import WorldModel

# What the vector env takes itself; every other keyword goes to the world (`WorldOptions`).
VECTOR_ENV_OPTIONS = ("num_envs", "render_mode", "end_threshold", "max_episode_steps", "frames", "world")


class TV2TVVectorEnv(VectorEnv):
    # and render_fps, the game card's (set per env)
    metadata = {"render_modes": ["rgb_array"], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 8, game: str | None = DEFAULT_GAME, render_mode: str | None = None,
                 end_threshold: float = 0.5, max_episode_steps: int | None = None, frames: str = "all",
                 world: WorldModel | None = None, **world_options):
        """`game` and `world_options`: the world's options (`WorldOptions`); `world`: an already
        loaded `WorldModel` to play instead (then no world options)."""
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, not {num_envs}")
        self.num_envs = num_envs
        self.last_frame_only = check_frames(frames)
        self.world = load_world(world, game, world_options, "TV2TVVectorEnv", VECTOR_ENV_OPTIONS)
        self.metadata = {**self.metadata, "render_fps": get_card(self.world.game).render_fps}
        self.single_action_space = command_space()
        self.action_space = batch_space(self.single_action_space, num_envs)  # a tuple of strings
        self.single_observation_space = frame_space(self.world.frame_shape)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.end_threshold, self.max_episode_steps, self.render_mode = end_threshold, max_episode_steps, render_mode
        self._rngs = [None] * num_envs
        self._generators = [None] * num_envs
        self._steps = np.zeros(num_envs, dtype=np.int64)
        self._autoreset = np.zeros(num_envs, dtype=bool)
        self._last = None

    # --- per sub-env randomness, drawn as the single env draws it -----------------------------
    def _new_episode(self, i: int, options: dict) -> tuple[int, str | None]:
        start = _per_env(options.get("start"), i)
        if start is None:
            start = int(self._rngs[i].integers(len(self.world)))
        self._generators[i] = torch_generator(self._rngs[i])
        prompt = _per_env(options.get("prompt"), i)
        self._steps[i] = 0
        return int(start), prompt

    def reset(self, *, seed=None, options: dict | None = None):
        """Reset every sub-env, or only those where `options["reset_mask"]` is True."""
        super().reset(seed=seed[0] if isinstance(seed, (list, tuple)) else seed)  # one seed per sub-env: below
        options = options or {}
        if "reset_mask" in options:
            return self._reset_some(np.flatnonzero(np.asarray(options["reset_mask"], bool)).tolist(), options)
        seeds = seed if isinstance(seed, (list, tuple)) else [None if seed is None else seed + i for i in range(self.num_envs)]
        for i, s in enumerate(seeds):
            if s is not None or self._rngs[i] is None:
                self._rngs[i], _ = seeding.np_random(s if s is not None else int(self.np_random.integers(2**31)))
        starts, prompts = zip(*[self._new_episode(i, options) for i in range(self.num_envs)])
        frames = self.world.reset(list(starts), list(prompts) if any(p is not None for p in prompts) else None)
        self._autoreset[:] = False
        texts = [str(self.world.contexts.texts[s][-1]) for s in starts]
        frames = frames[:, -1:] if self.last_frame_only else frames
        self._last = (frames, texts, [False] * self.num_envs)
        info = {"text": np.array(texts, dtype=object), "frames": frames, "thought": np.zeros(self.num_envs, bool),
                "reward": np.zeros(self.num_envs, np.float32), "end_prob": np.zeros(self.num_envs, np.float32),
                "start": np.array(starts)}
        return frames[:, -1].copy(), info

    def _reset_some(self, rows: list[int], options: dict):
        if self._last is None:
            raise RuntimeError("call reset() without reset_mask first")
        frames, texts, thought = self._last
        frames, texts, thought = frames.copy(), list(texts), np.array(thought)
        if rows:
            starts, prompts = zip(*[self._new_episode(i, options) for i in rows])
            first = self.world.replace_rows(rows, list(starts), list(prompts) if any(prompts) else None)
            frames[rows] = first[:, -frames.shape[1]:]
            self.world.rebuild()
            for i, s in zip(rows, starts):
                texts[i], thought[i] = str(self.world.contexts.texts[s][-1]), False
            self._autoreset[rows] = False
        self._last = (frames, texts, thought)
        info = {"text": np.array(texts, dtype=object), "frames": frames, "thought": thought}
        return frames[:, -1].copy(), info

    def step(self, actions):
        if self._last is None:
            raise RuntimeError("call reset() before step()")
        if isinstance(actions, str) or len(actions) != self.num_envs:
            raise ValueError(f"a TV2TV vector env takes one command per sub-env: a tuple of {self.num_envs} strings")
        for a in actions:
            check_command(a, self.single_action_space.max_length)
        N = self.num_envs
        restart = np.flatnonzero(self._autoreset).tolist()
        live = np.flatnonzero(~self._autoreset).tolist()
        F = 1 if self.last_frame_only else self.world.frames_per_chunk
        frames = np.zeros((N, F, *self.world.frame_shape), np.uint8)
        texts, thought = [""] * N, np.zeros(N, bool)
        read_as = np.array(["reset"] * N, dtype=object)
        reward, end = np.zeros(N, np.float32), np.zeros(N, np.float32)
        if restart:  # NEXT_STEP autoreset: these sub-envs start afresh and ignore their action
            starts, prompts = zip(*[self._new_episode(i, {}) for i in restart])
            frames[restart] = self.world.replace_rows(restart, list(starts))[:, -F:]
            for i, s in zip(restart, starts):
                texts[i] = str(self.world.contexts.texts[s][-1])
        if live:
            out = self.world.step([actions[i] for i in live], [self._generators[i] for i in live],
                                  rows=live if restart else None, last_frame_only=self.last_frame_only)
            frames[live], reward[live], end[live], thought[live] = out.frames, out.reward, out.end_prob, out.thought
            for i, t, how in zip(live, out.texts, out.read_as):
                texts[i], read_as[i] = t, how
        else:  # everybody restarts: nothing to step, just rebuild the cache
            self.world.rebuild()
        self._steps[live] += 1
        terminated = np.zeros(N, bool)
        terminated[live] = end[live] > self.end_threshold
        truncated = np.zeros(N, bool)
        if self.max_episode_steps is not None:
            truncated[live] = self._steps[live] >= self.max_episode_steps
        self._autoreset = terminated | truncated
        self._last = (frames, texts, thought)
        info = {"text": np.array(texts, dtype=object), "frames": frames, "thought": thought, "reward": reward,
                "end_prob": end, "read_as": read_as}
        return frames[:, -1].copy(), reward, terminated, truncated, info

    def render(self):
        if self.render_mode != "rgb_array" or self._last is None:
            return None
        frames, texts, thought = self._last
        return tuple(captioned(f[-1], t, 4, th) for f, t, th in zip(frames, texts, thought))


def _per_env(value, i):
    """An option given once for all sub-envs, or as a list with one entry each."""
    return value[i] if isinstance(value, (list, tuple)) else value
