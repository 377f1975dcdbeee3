"""The spaces every TV2TV env shares: a command string in, an RGB frame out.

Light on purpose (gymnasium and the commands module only): the real engine's env
(real_env.py) declares the same spaces as the world model's without loading torch.
"""
from __future__ import annotations

import numpy as np
from gymnasium import spaces

from .commands import COMMAND_CHARSET, MAX_COMMAND_LENGTH


def command_space() -> spaces.Text:
    """Any command the model can read, "" included (it lets the model decide)."""
    return spaces.Text(max_length=MAX_COMMAND_LENGTH, min_length=0, charset=COMMAND_CHARSET)


def frame_space(frame_shape: tuple[int, int, int]) -> spaces.Box:
    """One (H, W, 3) uint8 frame: the last frame of a chunk."""
    return spaces.Box(0, 255, tuple(frame_shape), np.uint8)
