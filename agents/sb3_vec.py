"""A batched TV2TV world as the vector env stable-baselines3 trains on.

`TV2TVVectorEnv` draws every sub-env's chunk in one model call (`tv2tv speed`: 8 streams give
about twice the frames/s of one), but it is a Gymnasium `VectorEnv`, which SB3 does not take.
`WorldVecEnv` adapts it the way `DiscreteTextActions` adapts the single env: action i of each
sub-env sends the game's i-th default command, and it follows SB3's conventions: when a sub-env
ends, its info holds `terminal_observation` (and `TimeLimit.truncated` when only the time limit
ended it), and the observation returned for it is already its next episode's first, so no
step is spent on Gymnasium's next-step autoreset.

    from stable_baselines3 import PPO
    from agents.sb3_vec import WorldVecEnv
    env = WorldVecEnv(TV2TVVectorEnv(num_envs=8, max_episode_steps=32, frames="last"))
    PPO("CnnPolicy", env, n_steps=16).learn(4096)
"""
from __future__ import annotations

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

from tv2tv_env.commands import check_command
from tv2tv_env.games import get_card


class WorldVecEnv(VecEnv):
    """`venv` (a TV2TVVectorEnv) with `Discrete(len(commands))` actions (default: the game's
    default commands, as DiscreteTextActions) and SB3's same-step autoreset."""

    def __init__(self, venv, commands: list[str] | None = None):
        self.venv = venv
        self.game = venv.unwrapped.world.game
        self.commands = list(commands if commands is not None else get_card(self.game).default_commands)
        if not self.commands:
            raise ValueError("WorldVecEnv needs at least one command")
        for c in self.commands:
            check_command(c, venv.single_action_space.max_length)
        super().__init__(venv.num_envs, venv.single_observation_space, spaces.Discrete(len(self.commands)))
        self._actions = None

    def reset(self):
        seeds = self._seeds if all(s is not None for s in self._seeds) else None  # VecEnv.seed(): seed + i
        obs, _ = self.venv.reset(seed=seeds)
        self._reset_seeds()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        actions = np.asarray(actions).reshape(self.num_envs)
        if not all(self.action_space.contains(int(a)) for a in actions):
            raise ValueError(f"actions {actions.tolist()} are not all in Discrete({len(self.commands)})")
        self._actions = tuple(self.commands[int(a)] for a in actions)

    def step_wait(self):
        obs, reward, terminated, truncated, info = self.venv.step(self._actions)
        done = terminated | truncated
        infos = [{"text": info["text"][i]} for i in range(self.num_envs)]
        if done.any():
            obs = obs.copy()
            for i in np.flatnonzero(done):
                infos[i]["terminal_observation"] = obs[i].copy()
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            first, _ = self.venv.reset(options={"reset_mask": done})  # those sub-envs start afresh now
            obs[done] = first[done]
        return obs, reward.astype(np.float32), done, infos

    def close(self) -> None:
        self.venv.close()

    # SB3 asks these of its envs; a batched world is one object, not num_envs of them
    def get_attr(self, attr_name, indices=None):
        return [getattr(self.venv, attr_name)] * len(list(self._get_indices(indices)))

    def set_attr(self, attr_name, value, indices=None):
        raise NotImplementedError("WorldVecEnv's sub-envs share one world model: set attributes on .venv")

    def env_method(self, method_name, *method_args, indices=None, **method_kwargs):
        raise NotImplementedError("WorldVecEnv's sub-envs share one world model: call methods on .venv")

    def env_is_wrapped(self, wrapper_class, indices=None):
        return [False] * len(list(self._get_indices(indices)))
