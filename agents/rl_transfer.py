"""`tv2tv rl-transfer`: does a policy trained only in the world model play the real game?

The same PPO (stable-baselines3, fixed hyperparameters, one seed) is trained for the same
number of env steps (a) inside the world model (`TV2TV/Doom-v0`, reward and episode ends from
the model's heads) and (b) on the real engine (`TV2TV/RealDoom-v0`), both through
`DiscreteTextActions`: the same commands, the same 64x64 observations, the same episode length.
Before training, every `--steps / --evals` steps and at the end, each policy plays the real
engine on the same `--eval-episodes` episodes (seeds never used in training), and so does a
uniform random policy. Needs the `rl` extra (`pip install -e ".[rl]"`).

    tv2tv rl-transfer [--game doom] [--steps 4096] [--episode-steps 32] [--eval-episodes 16] \
        [--evals 4] [--n-steps 128] [--n-envs 1] [--checkpoint DIR] [--contexts FILE] \
        [--no-imagined-events] [--no-real | --no-dream] [--seed 0] [--out runs/rl-transfer]

Arguments:
    --steps           env steps of PPO training in each world (one step = one 4-frame chunk)
    --episode-steps   episode length in both worlds (TimeLimit); DIAMOND imagines 15 steps
    --eval-episodes   real-engine episodes every policy is scored on (fixed seeds)
    --evals           evaluations during training, evenly spaced (the return-vs-steps curve)
    --n-steps         PPO rollout length per update, all envs together
    --n-envs          envs PPO collects from at once, in both worlds: the dream's are one
                      batched world model (agents/sb3_vec.py: one model call draws every
                      env's chunk, faster per step), the engine's N copies of it
    --checkpoint      the world model to train in (default: the game's shipped one)
    --contexts        its start contexts (many real starts: `tv2tv contexts --split train --out FILE`)
    --no-imagined-events  the model does not write the events it expects (then its reward head
                      finds few kills: README, "Reward and episode-end heads")

    --act             how a trained policy is scored: its most likely command, or drawn from it
    --temperature     the dream's hardness: the temperature of the text the model writes
    --guidance        the dream's hardness: classifier-free guidance of the frames it draws
    --death-odds      the dream's hardness: a factor on the odds of a death, written or from the end head
    --decoder         what draws the dream's frames: auto (the checkpoint's tiny decoder where it
                      ships one, the envs' default), tiny, or full (the VAE's decoder)
    --dream-episodes  also score the dream-trained and a random policy in the dream
    --no-real         skip the engine's PPO (a hardness sweep needs only the dream's)
    --no-dream        skip the dream's PPO (how far the same PPO gets on the engine alone)

Writes OUT/report.json (real returns and survival in chunks and engine tics with sd and 95%
confidence intervals, the transfer ratio (a)/(b) and each policy's ratio to random with
bootstrap intervals, wall time and steps/s of each training), OUT/report.md,
OUT/return_vs_steps.png and the two policies (OUT/dream-policy, OUT/real-policy:
`agents.policy.load_agent` loads either as a text agent). On take_cover: docs/take_cover.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

from tv2tv_env.games import CARDS, DEFAULT_GAME, env_id

PPO_SETTINGS = {"n_epochs": 4, "learning_rate": 3e-4, "gamma": 0.99, "ent_coef": 0.01}  # and batch_size 64


def make_env(world: str, game: str, episode_steps: int, seed: int, dream: dict | None = None):
    """`world` "dream" (the world model, made with the options `dream`: see `dream_options`) or
    "real" (the engine), as `DiscreteTextActions`, episodes of `episode_steps` chunks at most."""
    import tv2tv_env  # noqa: F401  (registers the envs)
    from tv2tv_env import DiscreteTextActions

    kwargs = (dream or {"frames": "last"}) if world == "dream" else {}
    env = DiscreteTextActions(gym.make(env_id(game, real=world == "real"), max_episode_steps=episode_steps, **kwargs))
    env.reset(seed=seed)
    return env


def dream_options(a) -> dict:
    """How the world model is made for RL, one env or a batch: a policy sees only the last
    frame of a chunk, so only that one is decoded. The model writes the events it expects after
    each command unless --no-imagined-events; the game's other defaults (its card's
    `world_defaults`: take_cover's episodes end on a written death) hold."""
    options = {"checkpoint": a.checkpoint, "contexts": a.contexts, "frames": "last",
               "imagined_events": not a.no_imagined_events}
    for knob in ("temperature", "death_odds", "guidance", "decoder"):  # hardness and decoder; None: the default
        if getattr(a, knob) is not None:
            options[knob] = getattr(a, knob)
    return options


def dream_vec_env(a, n: int):
    """`n` dream envs as one batched world model (agents/sb3_vec.py), made with `dream_options`."""
    from .sb3_vec import WorldVecEnv

    return WorldVecEnv(gym.make_vec(env_id(a.game), num_envs=n, vectorization_mode="vector_entry_point",
                                    max_episode_steps=a.episode_steps, **dream_options(a)))


def episode_returns(env, policy, episodes: int, seed: int) -> np.ndarray:
    """The return of each of `episodes` episodes (seeds seed, seed+1, ...); policy(obs) -> action."""
    return play_episodes(env, policy, episodes, seed)["returns"]


def play_episodes(env, policy, episodes: int, seed: int) -> dict:
    """Each of `episodes` episodes (seeds seed, seed+1, ...) played by policy(obs) -> action:
    its return, its length in chunks, and in engine tics where the game reports them
    (take_cover's `info["events"]["tic"]`; None elsewhere)."""
    returns, chunks, tics = [], [], []
    for i in range(episodes):
        obs, info = env.reset(seed=seed + i)
        done, ret, n = False, 0.0, 0
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            ret, n = ret + reward, n + 1
            done = terminated or truncated
        returns.append(ret)
        chunks.append(n)
        tics.append(info.get("events", {}).get("tic"))
    return {"returns": np.array(returns), "chunks": np.array(chunks),
            "tics": np.array(tics, float) if all(t is not None for t in tics) else None}


def eval_seed_of(seed: int) -> int:
    """The first real-engine episode seed every policy is scored on: seeds no training run starts from."""
    return 1_000_000 + seed


def random_policy(n_actions: int, seed: int):
    """A uniform random policy over `n_actions` (its draws from `seed`): one obs or a batch."""
    rng = np.random.default_rng(seed)
    return lambda obs: (int(rng.integers(n_actions)) if np.ndim(obs) == 3
                        else rng.integers(n_actions, size=len(obs)))


def sb3_policy(model, deterministic: bool):
    """A stable-baselines3 model as policy(obs) -> action (one obs or a batch)."""
    def act(obs):
        action = model.predict(obs, deterministic=deterministic)[0]
        return int(action) if np.ndim(obs) == 3 else action
    return act


def dream_survival(a, policy, episodes: int) -> dict:
    """Episode lengths in the world model under `policy` (policy(obs) -> actions): see
    `dream_episode_lengths`."""
    flat = dream_episode_lengths(a, lambda obs, t, finished: policy(obs), episodes)
    return {"chunks": mean_ci(np.array(flat, float)), "lengths": flat}


def dream_episode_lengths(a, act, episodes: int) -> list[int]:
    """Episode lengths in the world model: `a.n_envs` batched sub-envs (seeds a.seed + i), each
    playing episodes/n_envs whole episodes (counting only those, so that short episodes are not
    favoured). act(obs, t, finished) -> one action per sub-env: `t` each one's chunk index counted
    from its episode's start, `finished` how many episodes each has ended. A dream episode starts
    after its start context's real chunks (the first chunks of an episode, for contexts made with
    --per-episode 1): its length is counted from the episode's start, those chunks included, as a
    real episode's is."""
    n = max(1, a.n_envs)
    per_env = -(-episodes // n)
    env = dream_vec_env(a, n)
    env.seed(a.seed + 500_000)  # not the training envs' starts
    played_before = env.venv.unwrapped.world.contexts.latents.shape[1]  # the start context's chunks
    obs = env.reset()
    lengths, steps, finished = [[] for _ in range(n)], np.zeros(n, int), np.zeros(n, int)
    while min(len(x) for x in lengths) < per_env:
        obs, _, done, _ = env.step(np.asarray(act(obs, steps + played_before, finished)).reshape(n))
        steps += 1
        for i in np.flatnonzero(done):
            if len(lengths[i]) < per_env:
                lengths[i].append(min(int(steps[i]) + played_before, a.episode_steps))  # the real cap
            steps[i], finished[i] = 0, finished[i] + 1
    env.close()
    return [x for row in lengths for x in row]


def mean_ci(x: np.ndarray) -> dict:
    """Mean, standard deviation and the mean's 95% confidence interval (normal approximation)."""
    sd = float(x.std(ddof=1)) if len(x) > 1 else float("nan")
    half = 1.96 * sd / np.sqrt(len(x)) if len(x) > 1 else float("nan")
    return {"mean": float(x.mean()), "sd": sd, "ci95": [float(x.mean() - half), float(x.mean() + half)],
            "n": int(len(x))}


def survival(played: dict) -> dict:
    """Episode lengths of `play_episodes`: in chunks, and in engine tics where there are any."""
    out = {"chunks": mean_ci(played["chunks"].astype(float))}
    if played["tics"] is not None:
        out["tics"] = mean_ci(played["tics"])
    return out


def ratio_ci(a: np.ndarray, b: np.ndarray, seed: int, draws: int = 2000) -> dict:
    """mean(a) / mean(b) and a 95% bootstrap interval (the same episodes resampled for both)."""
    if b.mean() == 0:
        return {"ratio": float("nan"), "ci95": [float("nan"), float("nan")]}
    rng = np.random.default_rng(seed)
    idx = rng.integers(len(a), size=(draws, len(a)))
    ma, mb = a[idx].mean(1), b[idx].mean(1)
    r = ma[mb != 0] / mb[mb != 0]
    return {"ratio": float(a.mean() / b.mean()), "ci95": [float(np.percentile(r, 2.5)), float(np.percentile(r, 97.5))]}


def make_training_env(world: str, a):
    """What PPO collects from: one env as make_env gives it, or `a.n_envs` of them, sub-env i
    seeded with seed + i (the dream's as one batched world model, the engine's as copies)."""
    if a.n_envs == 1:
        return make_env(world, a.game, a.episode_steps, a.seed, dream_options(a))
    if world == "real":
        from stable_baselines3.common.vec_env import DummyVecEnv

        return DummyVecEnv([lambda i=i: make_env("real", a.game, a.episode_steps, a.seed + i) for i in range(a.n_envs)])
    return dream_vec_env(a, a.n_envs)


def train_and_track(world: str, a, real_env, eval_seed: int) -> dict:
    """PPO for `a.steps` in `world`, scored on the real engine at every evaluation point; the
    policy saved as OUT/WORLD-policy (`agents.policy.load_agent` loads it as a text agent)."""
    import torch
    from stable_baselines3 import PPO

    from .policy import save_policy

    env = make_training_env(world, a)
    dream_world = (env.venv if a.n_envs > 1 else env).unwrapped.world if world == "dream" else None
    model = PPO("CnnPolicy", env, n_steps=a.n_steps // a.n_envs, batch_size=min(64, a.n_steps), seed=a.seed,
                verbose=0, device="cpu", **PPO_SETTINGS)
    act = sb3_policy(model, deterministic=a.act == "deterministic")
    points = sorted({round(a.steps * k / a.evals) for k in range(a.evals + 1)})
    curve, train_s, done = [], 0.0, 0
    for target in points:
        if target > done:  # PPO collects whole rollouts of n_steps: `done` is what it really took
            t0 = time.perf_counter()
            model.learn(total_timesteps=target - done, reset_num_timesteps=done == 0)
            train_s += time.perf_counter() - t0
            done = model.num_timesteps
        torch.manual_seed(a.seed)  # a sampled policy draws with torch's global generator: the same draws each time
        played = play_episodes(real_env, act, a.eval_episodes, eval_seed)
        curve.append({"steps": done, **mean_ci(played["returns"]), "survival": survival(played)})
        print(f"rl-transfer: {world} policy after {done} steps ({train_s:.0f} s training): real return "
              f"{curve[-1]['mean']:.2f}", file=sys.stderr, flush=True)
    save_policy(model, Path(a.out) / f"{world}-policy", real_env.commands, real_env.observation_space.shape, a.game,
                deterministic=a.act == "deterministic", trained_in=world, steps=done, seed=a.seed,
                checkpoint=a.checkpoint, temperature=a.temperature, death_odds=a.death_odds, guidance=a.guidance)
    out = {"curve": curve, "final_returns": played["returns"].tolist(), "final_chunks": played["chunks"].tolist(),
           "trained_steps": done, "train_seconds": round(train_s, 1),
           "steps_per_s": round(done / train_s, 1) if train_s else None}
    if dream_world is not None:
        out["world"] = dream_world.describe()  # how the dream was sampled: its hardness, end_from, ...
    if world == "dream" and a.dream_episodes:
        out["in_dream"] = dream_survival(a, act, a.dream_episodes)
    env.close()
    return out


def report_markdown(r: dict) -> str:
    f = lambda m: f"{m['mean']:.2f} [{m['ci95'][0]:.2f}, {m['ci95'][1]:.2f}]"  # noqa: E731
    sd = lambda m: f"{m['mean']:.1f} ± {m['sd']:.1f} [{m['ci95'][0]:.1f}, {m['ci95'][1]:.1f}]"  # noqa: E731
    worlds = [w for w in ("dream", "real") if w in r]
    label = {"dream": "trained in the world model", "real": "trained on the real engine", "random": "random"}
    lines = [f"# tv2tv rl-transfer: {r['game']}", "",
             f"PPO for {r['steps']} env steps in each world, episodes of {r['episode_steps']} chunks at most; "
             f"real-engine return over {r['eval_episodes']} fixed episodes (mean [95% CI]), each policy acting "
             f"{r['act']}.", "",
             "| policy | real return | survival, chunks (mean ± sd [95% CI]) | survival, tics | x random | "
             "trained | steps/s in training |", "|---|---|---|---|---|---|---|"]
    for key in [*worlds, "random"]:
        final = r[key]["final"] if key != "random" else r["random"]
        surv = final.get("survival", {})
        tics = sd(surv["tics"]) if "tics" in surv else "-"
        x_random = f"{r['ratio_to_random'][key]['ratio']:.2f}" if key in r.get("ratio_to_random", {}) else "-"
        trained = (f"{r[key]['train_seconds']} s | {r[key]['steps_per_s']}" if key != "random" else "- | -")
        lines.append(f"| {label[key]} | {f(final)} | {sd(surv['chunks']) if surv else '-'} | {tics} | {x_random} | "
                     f"{trained} |")
    if "transfer_ratio" in r:
        rt = r["transfer_ratio"]
        lines += ["", f"Transfer ratio (world model / real engine): **{rt['ratio']:.2f}** [{rt['ci95'][0]:.2f}, "
                  f"{rt['ci95'][1]:.2f}] (bootstrap over episodes)."]
    if "in_dream" in r.get("dream", {}):
        lines += ["", f"In the dream ({r['dream_episodes']} episodes): the dream-trained policy survives "
                  f"{sd(r['dream']['in_dream']['chunks'])} chunks, a random policy "
                  f"{sd(r['random_in_dream']['chunks'])} (real: {sd(r['random']['survival']['chunks'])})."]
    return "\n".join(lines) + "\n"


def plot(r: dict, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in [("dream", "trained in the world model"), ("real", "trained on the real engine")]:
        if key not in r:
            continue
        c = r[key]["curve"]
        s, m = [p["steps"] for p in c], np.array([p["mean"] for p in c])
        lo, hi = np.array([p["ci95"][0] for p in c]), np.array([p["ci95"][1] for p in c])
        ax.plot(s, m, marker="o", label=label)
        ax.fill_between(s, lo, hi, alpha=0.2)
    ax.axhline(r["random"]["mean"], color="gray", ls="--", label="random policy")
    ax.set_xlabel("PPO env steps")
    ax.set_ylabel(f"real return ({r['eval_episodes']} episodes)")
    ax.set_title(f"{r['game']}: real-engine return against training steps")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(a) -> dict:
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        raise SystemExit("tv2tv rl-transfer needs stable-baselines3: pip install -e \".[rl]\"") from None
    from tv2tv_env.errors import UserError

    if a.no_dream and a.no_real:
        raise UserError("--no-dream and --no-real leave nothing to train: drop one of them")
    if a.n_envs < 1 or a.n_steps % a.n_envs:
        raise UserError(f"--n-steps ({a.n_steps}) must be a multiple of --n-envs ({a.n_envs}): "
                        f"each env collects n-steps / n-envs steps per update")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    eval_seed = eval_seed_of(a.seed)
    real_env = make_env("real", a.game, a.episode_steps, eval_seed)
    played = play_episodes(real_env, random_policy(real_env.action_space.n, a.seed), a.eval_episodes, eval_seed)
    r = {"game": a.game, "steps": a.steps, "episode_steps": a.episode_steps, "eval_episodes": a.eval_episodes,
         "seed": a.seed, "checkpoint": a.checkpoint, "contexts": a.contexts, "act": a.act,
         "imagined_events": not a.no_imagined_events, "temperature": a.temperature, "death_odds": a.death_odds,
         "guidance": a.guidance,
         "ppo": {"n_steps": a.n_steps, "n_envs": a.n_envs, "batch_size": min(64, a.n_steps), **PPO_SETTINGS},
         "commands": real_env.commands, "random": {**mean_ci(played["returns"]), "survival": survival(played)},
         "random_returns": played["returns"].tolist(), "random_chunks": played["chunks"].tolist()}
    if a.dream_episodes:
        r["dream_episodes"] = a.dream_episodes
        r["random_in_dream"] = dream_survival(a, random_policy(real_env.action_space.n, a.seed), a.dream_episodes)
        print(f"rl-transfer: random policy survives {r['random_in_dream']['chunks']['mean']:.1f} chunks in the dream, "
              f"{r['random']['survival']['chunks']['mean']:.1f} in the game", file=sys.stderr, flush=True)
    for world in ([] if a.no_dream else ["dream"]) + ([] if a.no_real else ["real"]):
        r[world] = train_and_track(world, a, real_env, eval_seed)
        r[world]["final"] = r[world]["curve"][-1]
    real_env.close()
    random_returns = np.array(r["random_returns"])
    if "real" in r and "dream" in r:
        r["transfer_ratio"] = ratio_ci(np.array(r["dream"]["final_returns"]), np.array(r["real"]["final_returns"]),
                                       a.seed)
    r["ratio_to_random"] = {w: ratio_ci(np.array(r[w]["final_returns"]), random_returns, a.seed)
                            for w in ("dream", "real") if w in r}
    (out / "report.json").write_text(json.dumps(r, indent=1))
    (out / "report.md").write_text(report_markdown(r))
    plot(r, out / "return_vs_steps.png")
    return r


def add_arguments(p: argparse.ArgumentParser):
    p.add_argument("--game", default=DEFAULT_GAME, choices=list(CARDS))
    p.add_argument("--steps", type=int, default=4096, help="PPO env steps in each world")
    p.add_argument("--episode-steps", type=int, default=32, help="episode length in chunks, both worlds")
    p.add_argument("--eval-episodes", type=int, default=16, help="real-engine episodes each policy is scored on")
    p.add_argument("--evals", type=int, default=4, help="evaluations during training (the curve)")
    p.add_argument("--n-steps", type=int, default=128, help="PPO rollout length per update, all envs together")
    p.add_argument("--n-envs", type=int, default=1, help="envs PPO collects from at once, in both worlds")
    p.add_argument("--checkpoint", default=None, help="world model to train in (default: the shipped one)")
    p.add_argument("--contexts", default=None, help="start contexts for the dream (`tv2tv contexts --out FILE`; "
                   "default: the checkpoint's own)")
    p.add_argument("--no-imagined-events", action="store_true",
                   help="in the dream, do not let the model write the events it expects after each command")
    p.add_argument("--act", default="deterministic", choices=["deterministic", "sampled"],
                   help="how a trained policy acts when scored: its most likely command, or one drawn from it")
    p.add_argument("--temperature", type=float, default=None,
                   help="the dream's hardness: temperature of the text the model writes (its events: hits and "
                        "deaths); default the world's 1.0")
    p.add_argument("--guidance", type=float, default=None,
                   help="the dream's hardness: classifier-free guidance of the frames it draws (a higher scale "
                        "draws sharper, more numerous fireballs); default the checkpoint's")
    p.add_argument("--death-odds", type=float, default=None,
                   help="the dream's hardness: a factor on the odds that the model writes a death and that its end "
                        "head calls one; default the world's (undoing the --oversample-ends it was trained with)")
    p.add_argument("--decoder", default=None, choices=["auto", "tiny", "full"],
                   help="what draws the dream's frames (default auto: the tiny decoder where the checkpoint has one)")
    p.add_argument("--dream-episodes", type=int, default=0,
                   help="also score the dream-trained and a random policy in the dream, this many episodes "
                        "(dream against real survival; default 0: not)")
    p.add_argument("--no-real", action="store_true", help="do not train the engine's PPO (dream hardness sweeps)")
    p.add_argument("--no-dream", action="store_true",
                   help="do not train the dream's PPO (how far the same PPO gets on the engine alone)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/rl-transfer")


def main(argv=None):
    p = argparse.ArgumentParser(prog="tv2tv rl-transfer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    print(json.dumps(summary(run(p.parse_args(argv)))))


def summary(r: dict) -> dict:
    """What the command prints: random's score, each trained policy's final one, and the ratios
    that both worlds' runs make (a run with --no-real or --no-dream has no transfer ratio)."""
    return ({k: r[k] for k in ["random", "transfer_ratio", "ratio_to_random"] if k in r}
            | {w: r[w]["final"] for w in ["dream", "real"] if w in r})


if __name__ == "__main__":
    main()
