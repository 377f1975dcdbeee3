"""Run any agent in the env for some steps: returns per episode, speed, an optional captioned mp4.

Shared by the agents' command lines (`python -m agents.random_agent --help`, ...).
"""
from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np

from tv2tv_env.games import CARDS, DEFAULT_GAME

from .base import TextAgent


def run_agent(env: gym.Env, agent: TextAgent, steps: int, seed: int = 0, video=None) -> dict:
    """Play `steps` env steps (resetting at episode ends). With `video`, writes every
    generated frame, upscaled with its text as a caption (needs render_mode="rgb_array")."""
    from tv2tv_env.render import captioned

    writer = None
    if video is not None:
        import imageio

        writer = imageio.get_writer(video, fps=env.metadata.get("render_fps", 16), macro_block_size=1)
    obs, info = env.reset(seed=seed)
    agent.reset(obs, info)
    returns, ret, thoughts = [], 0.0, 0
    t0 = time.perf_counter()
    for _ in range(steps):
        command = agent.act(obs, info)
        obs, reward, terminated, truncated, info = env.step(command)
        ret += reward
        thoughts += bool(info["thought"])
        if writer is not None:
            for frame in info["frames"]:
                writer.append_data(captioned(frame, info["text"], 4, info["thought"]))
        if terminated or truncated:
            returns.append(ret)
            ret = 0.0
            obs, info = env.reset()
            agent.reset(obs, info)
    seconds = time.perf_counter() - t0
    if writer is not None:
        writer.close()
    frames = steps * len(info["frames"])
    return {"steps": steps, "episodes_finished": len(returns), "returns": returns, "return_so_far": ret,
            "mean_return": float(np.mean(returns)) if returns else ret, "model_thought_steps": thoughts,
            "seconds": round(seconds, 2), "frames_per_s": round(frames / seconds, 1),
            "video": str(video) if video else None}


def main(kind: str, argv=None):
    p = argparse.ArgumentParser(prog=f"python -m agents.{kind}", description=f"Run the {kind} agent in a TV2TV env.")
    p.add_argument("--game", default=DEFAULT_GAME, choices=list(CARDS))
    p.add_argument("--checkpoint", default=None, help="checkpoint or run directory (default: the shipped model)")
    p.add_argument("--steps", type=int, default=64, help="env steps (one step = one chunk of 4 frames)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--video", default=None, help="write the captioned frames to this mp4")
    if kind == "scripted":
        p.add_argument("--commands", required=True, help="command script (format: agents/scripted.py)")
        p.add_argument("--loop", action="store_true", help="start the script over when it ends")
    if kind == "replay":
        p.add_argument("--data", required=True, help="a recorded dataset (tv2tv record)")
        p.add_argument("--episode", type=int, default=0)
    a = p.parse_args(argv)
    import tv2tv_env  # noqa: F401  (registers the envs)

    env = gym.make(f"TV2TV/{a.game.capitalize()}-v0", checkpoint=a.checkpoint, device=a.device,
                   render_mode="rgb_array")
    if kind == "random":
        from .random_agent import RandomTextAgent

        agent = RandomTextAgent(a.game, a.seed)
    elif kind == "scripted":
        from .scripted import ScriptedAgent

        agent = ScriptedAgent.from_file(a.commands, a.loop)
    elif kind == "replay":
        from .replay import ReplayAgent

        agent = ReplayAgent.from_dataset(a.data, a.episode)
    else:
        raise ValueError(kind)
    print(json.dumps(run_agent(env, agent, a.steps, a.seed, a.video)))
