"""`tv2tv play` and `tv2tv demo`: a world model in a window (keys and typed commands), or played
headless to an mp4 and a frame strip with the text of each chunk."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

from tv2tv_env.games import DEFAULT_GAME, env_id
from tv2tv_env.strip import frame_strip


def add_commands(sub):
    pl = sub.add_parser("play", help="play the world model in a pygame window (or headless to an mp4)",
                        description="Play the world model: keys and typed commands steer it; see the on-screen "
                        "help. --headless runs a command script without a window and writes an mp4.")
    from agents.play import add_arguments as add_play_arguments

    add_play_arguments(pl)
    pl.set_defaults(func=cmd_play)

    d = sub.add_parser("demo", help="the main demo: the default model played (window, or headless mp4 + strip)",
                       description="With a display: the play window on the default model. Without one (or "
                       "--headless): a scripted session with text interventions, written to OUT/demo.mp4 (the play "
                       "window) and OUT/strip.png (frames with the text of each chunk).")
    d.add_argument("--out", default="out/demo", help="where demo.mp4, strip.png and demo.png go (default out/demo)")
    d.add_argument("--steps", type=int, default=40, help="headless: env steps, one chunk each (default 40)")
    d.add_argument("--commands", default=None, help="headless: a command script instead of the built-in one")
    d.add_argument("--checkpoint", default=None, help="another checkpoint (default: the shipped model)")
    d.add_argument("--device", default="auto")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--headless", action="store_true", help="never open a window")
    d.add_argument("--quiet", action="store_true", help="(kept for scripts; the demo prints only a summary)")
    d.set_defaults(func=cmd_demo)


def cmd_play(a):
    from agents.play import run

    return run(a)


def cmd_demo(a):
    """The default model, played: a window where there is a display, else a scripted session
    with text interventions written to demo.mp4 and a frame strip with each chunk's text."""
    from agents.play import play

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    env = ChunkLog(gym.make(env_id(DEFAULT_GAME), checkpoint=a.checkpoint, device=a.device))
    if not a.headless and display_available():
        print("demo: opening the play window (H for help, Esc to quit)")
        summary = play(env, seed=a.seed)
        print(json.dumps(summary))
        return 0
    summary = play(env, steps=a.steps, headless=True, video=out / "demo.mp4", screenshot=out / "demo.png",
                   seed=a.seed, commands=a.commands)
    strip = write_strip(env.log, out / "strip.png")
    print(f"demo: the default world model played {summary['steps']} steps ({summary['frames']} frames) under "
          f"typed commands, {summary['generated_frames_per_s']} generated frames/s")
    print(f"demo: video of the play window: {summary['video']}")
    print(f"demo: frame strip with the text of each chunk: {strip}")
    print(f"demo: last window frame: {summary['screenshot']}")
    print("demo: play it yourself with `tv2tv play` (a window; H shows the keys)")
    return 0


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
