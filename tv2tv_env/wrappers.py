"""`DiscreteTextActions`: a fixed menu of commands as `Discrete(n)`, for RL libraries that need it."""
from __future__ import annotations

import gymnasium as gym
from gymnasium import spaces

from .commands import check_command
from .games import get_card


class DiscreteTextActions(gym.ActionWrapper):
    """Action i sends `commands[i]`; without a list, the game's default commands."""

    def __init__(self, env: gym.Env, commands: list[str] | None = None):
        super().__init__(env)
        game = env.unwrapped.game  # the world model's env and the real engine's both name theirs
        self.commands = list(commands if commands is not None else get_card(game).default_commands)
        if not self.commands:
            raise ValueError("DiscreteTextActions needs at least one command")
        for c in self.commands:
            check_command(c, env.action_space.max_length)
        self.action_space = spaces.Discrete(len(self.commands))

    def action(self, action) -> str:
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in Discrete({len(self.commands)}): use 0..{len(self.commands) - 1}")
        return self.commands[int(action)]
