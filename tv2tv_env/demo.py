"""Pieces of `tv2tv demo`: a log of the chunks played, and the frame strip drawn from it."""
from __future__ import annotations

import os
import sys

import gymnasium as gym
import numpy as np

from .strip import frame_strip


def display_available() -> bool:
    """Whether a window can open here (SDL's dummy driver or no X/Wayland display: no)."""
    if os.environ.get("SDL_VIDEODRIVER") in ("dummy", "offscreen"):
        return False
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class ChunkLog(gym.Wrapper):
    """Keeps (frames, text, thought) of every chunk the env produced, resets included."""

    def __init__(self, env):
        super().__init__(env)
        self.log = []

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.log.append((info["frames"], f"(real start) {info['text']}", False))
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.log.append((info["frames"], info["text"], info["thought"]))
        return obs, reward, terminated, truncated, info


def write_strip(log, path, rows: int = 10):
    """The start and `rows - 1` evenly spaced later chunks, each with its text."""
    pick = np.unique(np.linspace(0, len(log) - 1, min(rows, len(log))).round().astype(int))
    chunks = np.stack([log[i][0] for i in pick])
    texts = [(f"[model thinks] {log[i][1]}" if log[i][2] else log[i][1]) or "(no text)" for i in pick]
    frame_strip(chunks, texts, title="default model: generated chunks under typed commands").save(path)
    return path
