"""Run any agent in the env for some steps: returns per episode, speed, an optional captioned mp4.

Shared by the agents' command lines (`python -m agents.random_agent --help`, ...).
"""
from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np

from tv2tv_env.games import CARDS, DEFAULT_GAME, env_id

from .base import TextAgent


def run_agent(env: gym.Env, agent: TextAgent, steps: int, seed: int = 0, video=None) -> dict:
    """Play `steps` env steps (resetting at episode ends). With `video`, writes every
    generated frame, upscaled with its text as a caption (needs render_mode="rgb_array")."""
    from tv2tv_env.render import captioned

    writer = None
    if video is not None:
        import imageio

        writer = imageio.get_writer(video, fps=env.metadata["render_fps"], macro_block_size=1)  # the game's rate
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


def main(kind: str, make_agent, add_arguments=None, argv=None):
    """The command line of `python -m agents.KIND`: the agent module passes how to make its
    agent from the parsed arguments (and the arguments it adds), so this module knows no agent."""
    p = argparse.ArgumentParser(prog=f"python -m agents.{kind}", description=f"Run the {kind} agent in a TV2TV env.")
    p.add_argument("--game", default=DEFAULT_GAME, choices=list(CARDS))
    p.add_argument("--checkpoint", default=None, help="checkpoint or run directory (default: the shipped model)")
    p.add_argument("--steps", type=int, default=64, help="env steps (one step = one chunk of 4 frames)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--video", default=None, help="write the captioned frames to this mp4")
    p.add_argument("--real", action="store_true", help="play the game's real engine (TV2TV/Real<Game>-v0) instead "
                   "of the world model, behind the same spaces")
    if add_arguments:
        add_arguments(p)
    a = p.parse_args(argv)
    import tv2tv_env  # noqa: F401  (registers the envs)

    if a.real:
        env = gym.make(env_id(a.game, real=True), render_mode="rgb_array")
    else:
        env = gym.make(env_id(a.game), checkpoint=a.checkpoint, device=a.device, render_mode="rgb_array")
    print(json.dumps(run_agent(env, make_agent(a), a.steps, a.seed, a.video)))
