"""Score the two policies of a `tv2tv rl-transfer` run on the real engine, both ways a PPO policy
can act: deterministic (the most likely command, as `rl-transfer` scores them) and sampled (a
command drawn from the policy, as it acted in training), beside a uniform random policy, all on
the same real episodes. A policy that spreads its mass over a few commands is scored by its
mode alone when deterministic: the sampled figure says what the whole policy learned.

    python scripts/rl_eval.py --run runs/rl-transfer [--episodes 64] [--seed 0] [--out FILE]

Arguments:
    --run        an rl-transfer output directory (dream-policy/, real-policy/, report.json)
    --episodes   real-engine episodes per policy and way (seeds 1,000,000 + seed + i, which no
                 training run starts from; rl-transfer's own evaluation uses the first 16)
    --seed       the seed of the rl-transfer run, and of the sampled commands
    --out        also write the JSON here (default: RUN/eval.json)

Prints one JSON object: mean real return with its 95% interval for each policy and way, the
command each policy's mode is on the episodes' first observations, and the ratio dream / real
(bootstrap interval over episodes) each way. Needs the `rl` extra.
"""
import argparse
import json
from pathlib import Path

import numpy as np
import torch

from agents.policy import POLICY_FILE
from agents.rl_transfer import episode_returns, eval_seed_of, make_env, mean_ci, random_policy, ratio_ci


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="a `tv2tv rl-transfer --out` directory")
    p.add_argument("--episodes", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    a = p.parse_args()

    from stable_baselines3 import PPO

    run = Path(a.run)
    setup = json.loads((run / "report.json").read_text())
    eval_seed = eval_seed_of(a.seed)  # the episodes rl-transfer scores on, and more of them
    env = make_env("real", setup["game"], setup["episode_steps"], eval_seed)
    out = {"run": str(run), "game": setup["game"], "steps": setup["steps"], "episodes": a.episodes}
    returns = {}
    for name in ("dream", "real"):
        model = PPO.load(run / f"{name}-policy" / POLICY_FILE, device="cpu")
        for way, deterministic in (("deterministic", True), ("sampled", False)):
            torch.manual_seed(a.seed)  # SB3 samples with torch's global generator
            r = episode_returns(env, lambda o: int(model.predict(o, deterministic=deterministic)[0]), a.episodes,
                                eval_seed)
            returns[name, way] = r
            out[f"{name}_{way}"] = mean_ci(r)
        first = [env.reset(seed=eval_seed + i)[0] for i in range(min(a.episodes, 16))]
        modes = model.predict(np.stack(first), deterministic=True)[0]
        out[f"{name}_mode"] = sorted({env.commands[int(m)] for m in modes})
    out["random"] = mean_ci(episode_returns(env, random_policy(env.action_space.n, a.seed), a.episodes, eval_seed))
    for way in ("deterministic", "sampled"):
        out[f"ratio_{way}"] = ratio_ci(returns["dream", way], returns["real", way], a.seed)
    env.close()
    text = json.dumps(out, indent=1)
    Path(a.out or run / "eval.json").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
