"""`DiscreteTextActions`: a fixed menu of commands as `Discrete(n)`, for RL libraries that need it."""
from __future__ import annotations

import gymnasium as gym
from gymnasium import spaces

from .commands import check_command

# One command per action of the recorded game, in the words most used when recording.
DEFAULT_COMMANDS = {
    "doom": ["stand still", "move forward", "move backward", "turn left", "turn right", "strafe left",
             "strafe right", "shoot", "move forward and turn left", "move forward and turn right",
             "turn left and shoot", "turn right and shoot"],
    "crafter": ["do nothing", "move left", "move right", "move up", "move down", "interact", "sleep",
                "place a stone", "place a table", "place a furnace", "plant a sapling", "craft a wood pickaxe",
                "craft a stone pickaxe", "craft an iron pickaxe", "craft a wood sword", "craft a stone sword",
                "craft an iron sword"],
}


class DiscreteTextActions(gym.ActionWrapper):
    """Action i sends `commands[i]`; without a list, the game's default commands."""

    def __init__(self, env: gym.Env, commands: list[str] | None = None):
        super().__init__(env)
        game = env.unwrapped.game  # the world model's env and the real engine's both name theirs
        self.commands = list(commands if commands is not None else DEFAULT_COMMANDS[game])
        if not self.commands:
            raise ValueError("DiscreteTextActions needs at least one command")
        for c in self.commands:
            check_command(c, env.action_space.max_length)
        self.action_space = spaces.Discrete(len(self.commands))

    def action(self, action) -> str:
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in Discrete({len(self.commands)}): use 0..{len(self.commands) - 1}")
        return self.commands[int(action)]
