"""PPO on the world model: stable-baselines3 trains a policy over `DiscreteTextActions`.

The reward is the world model's own reward head (what the recorded game paid out, as the
model predicts it), so this shows the env working as a training ground end to end; it is
not a claim that the learned policy plays the real game well. Needs the `rl` extra
(`pip install -e ".[rl]"`).

    python -m agents.ppo [--timesteps 1024] [--episode-steps 32] [--eval-episodes 4] [--out runs/ppo]

Arguments:
    --timesteps       env steps of PPO training (one step = one generated chunk)
    --episode-steps   episode length (TimeLimit); short episodes give PPO more resets
    --n-steps         PPO rollout length per update
    --eval-episodes   episodes (fixed seeds) on which the trained policy and a uniform random
                      policy are both scored; the JSON report has both mean returns
    --checkpoint      world model to train in (default: the shipped one)
    --out             where the SB3 policy zip is saved
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from tv2tv_env.games import DEFAULT_GAME

from .rl_transfer import episode_returns
from .rl_transfer import make_env as transfer_env


def make_env(checkpoint, episode_steps: int, seed: int):
    return transfer_env("dream", DEFAULT_GAME, episode_steps, seed,
                        {"checkpoint": checkpoint, "imagined_events": False, "frames": "last"})


def evaluate(env, policy, episodes: int, seed: int) -> float:
    """Mean return over `episodes` episodes with seeds seed, seed+1, ...; policy(obs) -> action."""
    return float(episode_returns(env, policy, episodes, seed).mean())


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m agents.ppo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--timesteps", type=int, default=1024)
    p.add_argument("--episode-steps", type=int, default=32)
    p.add_argument("--n-steps", type=int, default=128)
    p.add_argument("--eval-episodes", type=int, default=4)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/ppo")
    a = p.parse_args(argv)
    try:
        from stable_baselines3 import PPO
    except ImportError:
        raise SystemExit("agents.ppo needs stable-baselines3: pip install -e \".[rl]\"") from None

    env = make_env(a.checkpoint, a.episode_steps, a.seed)
    model = PPO("CnnPolicy", env, n_steps=a.n_steps, batch_size=min(64, a.n_steps), n_epochs=4, seed=a.seed,
                verbose=0, device="cpu")
    t0 = time.perf_counter()
    model.learn(total_timesteps=a.timesteps)
    train_s = time.perf_counter() - t0
    model.save(a.out)
    rng = np.random.default_rng(a.seed)
    eval_seed = 10_000 + a.seed  # episodes never seen in training
    ppo_return = evaluate(env, lambda o: int(model.predict(o, deterministic=True)[0]), a.eval_episodes, eval_seed)
    random_return = evaluate(env, lambda o: int(rng.integers(env.action_space.n)), a.eval_episodes, eval_seed)
    print(json.dumps({"timesteps": a.timesteps, "train_seconds": round(train_s, 1), "episode_steps": a.episode_steps,
                      "eval_episodes": a.eval_episodes, "ppo_mean_return": ppo_return,
                      "random_mean_return": random_return, "commands": env.commands, "policy": f"{a.out}.zip"}))


if __name__ == "__main__":
    main()
