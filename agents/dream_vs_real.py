"""One policy, one start, two worlds: the real game and the world model's dream side by side.

The policy plays the real engine from seed --seed. The first chunks of that episode (as many as
the world model's start contexts hold, 4) are encoded with the world's VAE and become the dream's
start, with the recorder's text for them; from there the same policy plays on in the dream. The
video shows the game on the left and the dream on the right, each captioned with its text, until
both episodes have ended (or --steps chunks); a finished side stays on its last frame.

    python -m agents.dream_vs_real --policy checkpoints/doom-takecover-small/policy \
        --game doom_take_cover --seed 1000000 --steps 200 --video docs/take_cover/dream-vs-real.mp4

Prints one JSON line: each world's chunks survived, return and how its episode ended.
Needs stable-baselines3 (the `rl` extra: pip install -e ".[rl]").
"""
from __future__ import annotations

import argparse
import json

import gymnasium as gym
import numpy as np

from tv2tv_env.games import CARDS, DEFAULT_GAME, env_id

from .policy import load_agent


def play(env, agent, steps: int, seed: int | None = None, options: dict | None = None) -> dict:
    """One episode of at most `steps` chunks: each chunk's frames and text, the return, how it ended."""
    obs, info = env.reset(seed=seed, options=options)
    agent.reset(obs, info)
    frames, texts, ret, ended = [], [], 0.0, "time limit"
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
        frames.append(info["frames"])
        texts.append(info["text"])
        ret += reward
        if terminated or truncated:
            ended = "died" if terminated else "time limit"
            break
    return {"frames": frames, "texts": texts, "return": ret, "ended": ended}


def dream_from(real: dict, world, game: str):
    """The world's start contexts replaced by one: the real episode's first chunks."""
    from tv2tv_env.data.contexts import Contexts

    k = world.contexts.latents.shape[1]
    if len(real["frames"]) <= k:
        raise SystemExit(f"the real episode lasted {len(real['frames'])} chunks: the dream needs more than {k} "
                         f"to start from; try another --seed")
    frames = np.stack(real["frames"][:k])  # (K, F, H, W, 3)
    latents = world.encode_frames(frames).cpu().numpy().astype(np.float16)
    world.use_contexts(Contexts(latents[None], frames[None, -1], np.array([real["texts"][:k]], dtype=str),
                                np.array(["real episode"]), game), "the real episode's start")
    return k


def side_by_side(real: dict, dream: dict, k: int, path: str, fps: int):
    """Left the game, right the dream, chunk by chunk from the start (the first k chunks are the
    real ones on both sides: the dream starts after them)."""
    import imageio

    from tv2tv_env.render import captioned

    dream_frames = real["frames"][:k] + dream["frames"]
    dream_texts = [f"(real start) {t}" for t in real["texts"][:k]] + dream["texts"]
    n = max(len(real["frames"]), len(dream_frames))
    with imageio.get_writer(path, fps=fps, macro_block_size=1) as writer:
        for i in range(n):
            ri, di = min(i, len(real["frames"]) - 1), min(i, len(dream_frames) - 1)
            for f in range(len(real["frames"][ri])):
                left = captioned(real["frames"][ri][f], f"game: {real['texts'][ri]}", 4, False)
                right = captioned(dream_frames[di][f], f"dream: {dream_texts[di]}", 4, False)
                writer.append_data(np.concatenate([left, right], axis=1))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m agents.dream_vs_real", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--policy", required=True, help="a policy directory (agent.json, policy.zip)")
    p.add_argument("--game", default=DEFAULT_GAME, choices=list(CARDS))
    p.add_argument("--checkpoint", default=None, help="the world model (default: the game's shipped one)")
    p.add_argument("--seed", type=int, default=1_000_000, help="the real episode's engine seed (and the dream's)")
    p.add_argument("--steps", type=int, default=200, help="chunks at most in each world")
    p.add_argument("--video", required=True, help="the side-by-side mp4 to write")
    a = p.parse_args(argv)
    import tv2tv_env  # noqa: F401  (registers the envs)

    agent = load_agent(a.policy, seed=a.seed)
    real_env = gym.make(env_id(a.game, real=True), max_episode_steps=a.steps)
    real = play(real_env, agent, a.steps, seed=a.seed)
    dream_env = gym.make(env_id(a.game), checkpoint=a.checkpoint, max_episode_steps=a.steps)
    k = dream_from(real, dream_env.unwrapped.world, a.game)
    agent = load_agent(a.policy, seed=a.seed)  # the same draws as in the game
    dream = play(dream_env, agent, a.steps - k, seed=a.seed, options={"start": 0})
    side_by_side(real, dream, k, a.video, real_env.metadata["render_fps"])
    print(json.dumps({"seed": a.seed, "video": a.video, "real": {"chunks": len(real["frames"]),
                      "return": real["return"], "ended": real["ended"]},
                      "dream": {"chunks": k + len(dream["frames"]), "return": dream["return"], "ended": dream["ended"],
                                "started_after_real_chunks": k}}))


if __name__ == "__main__":
    main()
