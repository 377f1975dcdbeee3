"""Does the dream rank policies as the game does? Simple fixed policies, scored in both worlds.

An agent trained in a world model learns whatever that world rewards. If the world rates a
policy that the game punishes (holding one strafe into a wall on take_cover), the agent finds
it; if it rates the game's good policies well, a good enough learner finds those. This scores a
family of policies that need no training, on the real engine and in the dream, and reports how
far their orders agree (Spearman's rank correlation) and each one's dream/real survival.

    python scripts/rank_policies.py [--checkpoint checkpoints/doom-takecover-small] \
        [--contexts runs/tc-contexts-train.npz] [--policies random stand hold_left hold_right sweep4 sweep8 sweep12 sweep16] \
        [--real-episodes 50] [--dream-episodes 32] [--out docs/take_cover/rank_policies.json]

Policies (the card's default commands: stand still, strafe left, strafe right):
- random: a command drawn uniformly every chunk;
- stand, hold_left, hold_right: one command always;
- sweepK: K chunks strafing one way, K the other, and so on (episodes alternate the first side).
Real episodes use seeds 2,000,000 + i (neither recording, training nor rl-transfer's
evaluation uses them); dream episodes start from --contexts (first chunks of training
episodes), their length counted from the episode's start as `tv2tv rl-transfer` counts it.
Take_cover only for now: its episode ends at a death in both worlds.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from agents.rl_transfer import add_arguments, dream_episode_lengths, make_env, mean_ci

GAME = "doom_take_cover"
REAL_SEED = 2_000_000


def policy(name: str, rng: np.random.Generator):
    """policy(t, phase) -> action index (0 stand still, 1 strafe left, 2 strafe right): t the
    chunk's index in its episode, phase 0 or 1 (which side a sweep starts on)."""
    fixed = {"stand": 0, "hold_left": 1, "hold_right": 2}
    if name == "random":
        return lambda t, phase: int(rng.integers(3))
    if name in fixed:
        return lambda t, phase: fixed[name]
    if name.startswith("sweep") and name[5:].isdigit() and int(name[5:]) > 0:
        k = int(name[5:])
        return lambda t, phase: 1 + (t // k + phase) % 2
    raise SystemExit(f"unknown policy {name!r}: random, stand, hold_left, hold_right or sweepK (K chunks a side)")


def real_lengths(name: str, episodes: int, max_chunks: int) -> list[int]:
    """Chunks survived in the real game, episode i with seed REAL_SEED + i."""
    act, env = policy(name, np.random.default_rng(0)), make_env("real", GAME, max_chunks, REAL_SEED)
    lengths = []
    for i in range(episodes):
        env.reset(seed=REAL_SEED + i)
        t, done = 0, False
        while not done:
            _, _, terminated, truncated, _ = env.step(act(t, i % 2))
            t, done = t + 1, terminated or truncated
        lengths.append(t)
    env.close()
    return lengths


def dream_lengths(name: str, episodes: int, a) -> list[int]:
    """Chunks survived in the dream, as `tv2tv rl-transfer --dream-episodes` counts them (its
    defaults: seeds 500,000 + i, the env's hardness); a sub-env's sweeps start on alternate sides
    from one episode to the next."""
    p = argparse.ArgumentParser()
    add_arguments(p)
    options = argparse.Namespace(**{**vars(p.parse_args([])), "game": GAME, "checkpoint": a.checkpoint,
                                    "contexts": a.contexts, "guidance": a.guidance, "episode_steps": a.max_chunks,
                                    "n_envs": a.n_envs})
    policy_ = policy(name, np.random.default_rng(0))
    return dream_episode_lengths(
        options, lambda obs, t, finished: [policy_(t[i], (i + finished[i]) % 2) for i in range(a.n_envs)], episodes)


def spearman(x: list[float], y: list[float]) -> float | None:
    """Spearman's rank correlation (ties get their mean rank); None where either side has one value."""
    if len(set(x)) < 2 or len(set(y)) < 2:
        return None
    def ranks(v):
        v = np.asarray(v, float)
        return np.array([np.mean(np.flatnonzero(np.sort(v) == value)) for value in v])
    rx, ry = ranks(x), ranks(y)
    return float(np.corrcoef(rx, ry)[0, 1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None, help="the take_cover world (default: the shipped one)")
    p.add_argument("--contexts", default=None, help="dream start contexts (`tv2tv contexts --split train`; "
                   "default: the checkpoint's own)")
    p.add_argument("--policies", nargs="+",
                   default=["random", "stand", "hold_left", "hold_right", "sweep4", "sweep8", "sweep12", "sweep16"])
    p.add_argument("--real-episodes", type=int, default=50)
    p.add_argument("--dream-episodes", type=int, default=32)
    p.add_argument("--max-chunks", type=int, default=400, help="episode length cap in both worlds "
                   "(rl-transfer's --episode-steps on take_cover)")
    p.add_argument("--n-envs", type=int, default=8, help="dream episodes drawn at once (one batched world)")
    p.add_argument("--guidance", type=float, default=None, help="the dream's guidance (default the env's, 1.0)")
    p.add_argument("--out", default=None, help="write the JSON here (and a markdown table beside it)")
    a = p.parse_args(argv)
    rows, t0 = {}, time.perf_counter()
    for name in a.policies:
        real, dream = real_lengths(name, a.real_episodes, a.max_chunks), dream_lengths(name, a.dream_episodes, a)
        rows[name] = {"real": mean_ci(np.array(real, float)), "dream": mean_ci(np.array(dream, float)),
                      "real_lengths": real, "dream_lengths": dream}
        rows[name]["dream_over_real"] = rows[name]["dream"]["mean"] / rows[name]["real"]["mean"]
        print(f"{name}: real {rows[name]['real']['mean']:.1f}, dream {rows[name]['dream']['mean']:.1f} chunks",
              file=sys.stderr, flush=True)
    real_means = [r["real"]["mean"] for r in rows.values()]
    dream_means = [r["dream"]["mean"] for r in rows.values()]
    best_real, best_dream = max(rows, key=lambda k: rows[k]["real"]["mean"]), max(rows, key=lambda k: rows[k]["dream"]["mean"])
    result = {"checkpoint": a.checkpoint, "contexts": a.contexts, "guidance": a.guidance, "policies": rows,
              "spearman": spearman(real_means, dream_means), "best_in_game": best_real, "best_in_dream": best_dream,
              "dream_pick_in_game": rows[best_dream]["real"]["mean"], "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps({k: v for k, v in result.items() if k != "policies"}))
    if a.out:
        out = Path(a.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
        out.with_suffix(".md").write_text(markdown(result, a))


def markdown(r: dict, a) -> str:
    sd = lambda m: f"{m['mean']:.1f} ± {m['sd']:.1f} [{m['ci95'][0]:.1f}, {m['ci95'][1]:.1f}]"  # noqa: E731
    lines = [f"# Does the dream rank policies as the game does? ({r['checkpoint'] or 'the shipped take_cover world'})",
             "", f"Survival in chunks, mean ± sd [95% CI]: {a.real_episodes} real episodes (seeds from {REAL_SEED}), "
             f"{a.dream_episodes} dream episodes.", "",
             "| policy | game | dream | dream / game |", "|---|---|---|---|"]
    for name, row in r["policies"].items():
        lines.append(f"| {name} | {sd(row['real'])} | {sd(row['dream'])} | {row['dream_over_real']:.2f} |")
    rho = "undefined (one side scores every policy alike)" if r["spearman"] is None else f"**{r['spearman']:.2f}**"
    lines += ["", f"Spearman's rank correlation, dream against game: {rho}. Best in the game: "
              f"{r['best_in_game']}; best in the dream: {r['best_in_dream']}, which survives "
              f"{r['dream_pick_in_game']:.1f} chunks in the game."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
