"""A trained policy on disk, loaded as a `TextAgent`: `load_agent(path).act(obs, info)` gives its command.

A policy directory holds the network (`policy.zip`, stable-baselines3's format: PPO's CNN over
the last 64x64 frame) and `agent.json`: the commands its actions stand for, the observation
shape it was trained on, the game and how it was trained. Because the agent answers with
command strings, the same policy plays the world model (`TV2TV/DoomTakeCover-v0`) and the real
engine (`TV2TV/RealDoomTakeCover-v0`, or `TV2TV/RealDoom-v0` with scenarios=["take_cover"]).

    from agents.policy import load_agent
    agent = load_agent("checkpoints/doom-takecover-small/policy")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))

Play one in the real game into a captioned video (`--real`; without it, in the dream from one of
the checkpoint's start contexts), or both from the same start, side by side:

    python -m agents.policy --policy checkpoints/doom-takecover-small/policy --game doom_take_cover \
        --real --steps 200 --video runs/policy-real.mp4
    python -m agents.dream_vs_real --policy checkpoints/doom-takecover-small/policy \
        --game doom_take_cover --video runs/dream-vs-real.mp4

Needs stable-baselines3 (the `rl` extra: pip install -e ".[rl]").
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tv2tv_env.errors import UserError

from .base import TextAgent

AGENT_FILE = "agent.json"
POLICY_FILE = "policy.zip"
FORMAT = "tv2tv-policy-1"


class PolicyAgent(TextAgent):
    """A stable-baselines3 policy over a fixed list of commands, as a text agent. `deterministic`:
    always its most likely command; else one drawn from its distribution (`seed` seeds the draws)."""

    def __init__(self, model, commands: list[str], observation_shape: tuple, game: str,
                 deterministic: bool = False, seed: int = 0):
        self.model, self.commands, self.game = model, list(commands), game
        self.observation_shape = tuple(observation_shape)
        self.deterministic = deterministic
        self.seed = seed

    def reset(self, obs, info) -> None:
        pass

    def act(self, obs: np.ndarray, info: dict | None = None) -> str:
        if tuple(np.shape(obs)) != self.observation_shape:
            raise UserError(f"this policy reads observations shaped {self.observation_shape}, not "
                            f"{tuple(np.shape(obs))}: it was trained on another env")
        return self.commands[self.action_index(obs)]

    def action_index(self, obs: np.ndarray) -> int:
        """The index of the command it picks (what `DiscreteTextActions` takes)."""
        if not self.deterministic:
            import torch

            torch.manual_seed(self.seed)  # SB3 samples with torch's global generator
            self.seed += 1
        return int(self.model.predict(obs, deterministic=self.deterministic)[0])


def save_policy(model, out, commands: list[str], observation_shape: tuple, game: str, **about) -> Path:
    """Write `model` (a stable-baselines3 algorithm) and its agent.json into directory `out`;
    `about`: how it was trained (JSON values), kept in agent.json."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / POLICY_FILE)
    info = {"format": FORMAT, "game": game, "commands": list(commands),
            "observation_shape": list(observation_shape), **about}
    (out / AGENT_FILE).write_text(json.dumps(info, indent=1))
    return out


def load_agent(path, commands: list[str] | None = None, observation_shape: tuple | None = None,
               deterministic: bool | None = None, seed: int = 0) -> PolicyAgent:
    """The policy in directory `path` as a `TextAgent`. `commands` / `observation_shape`: what the
    caller's env offers; a policy trained for others is refused, saying which. `deterministic`:
    None keeps the way it was scored when saved (agent.json), else as given."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"no policy at {path}: give a directory made by `tv2tv rl-transfer` (OUT/dream-policy) "
                        f"or a shipped one such as checkpoints/doom-takecover-small/policy")
    if not path.is_dir() or not (path / AGENT_FILE).is_file():
        raise UserError(f"{path} is not a policy: a policy directory holds {AGENT_FILE} and {POLICY_FILE} "
                        f"(made by `tv2tv rl-transfer`)")
    try:
        info = json.loads((path / AGENT_FILE).read_text())
        if info.get("format") != FORMAT:
            raise ValueError(f"format {info.get('format')!r}, expected {FORMAT!r}")
        saved_commands, shape = list(info["commands"]), tuple(info["observation_shape"])
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path / AGENT_FILE} is damaged or not a policy's ({e}); copy the policy again") from None
    if commands is not None and list(commands) != saved_commands:
        raise UserError(f"the policy at {path} was trained for the commands {saved_commands}, not {list(commands)}: "
                        f"wrap the env in DiscreteTextActions(env, {saved_commands}) or train one for yours")
    if observation_shape is not None and tuple(observation_shape) != shape:
        raise UserError(f"the policy at {path} reads observations shaped {shape}, not {tuple(observation_shape)}: "
                        f"it was trained on another env")
    try:
        from stable_baselines3 import PPO
    except ImportError:
        raise UserError("loading a policy needs stable-baselines3: pip install -e \".[rl]\"") from None
    try:
        model = PPO.load(path / POLICY_FILE, device="cpu")
    except Exception as e:  # zipfile, pickle and torch all raise their own errors for a damaged file
        raise UserError(f"{path / POLICY_FILE} is damaged or not a stable-baselines3 policy ({type(e).__name__}: "
                        f"{e}); copy the policy again") from None
    net_shape = tuple(model.observation_space.shape)  # SB3 keeps images channel-first
    if model.action_space.n != len(saved_commands) or net_shape not in (shape, (shape[-1], *shape[:-1])):
        raise UserError(f"{path}: the network ({model.action_space.n} actions, observations "
                        f"{net_shape}) does not match {AGENT_FILE}; copy the policy again")
    if deterministic is None:
        deterministic = bool(info.get("deterministic", False))
    return PolicyAgent(model, saved_commands, shape, info.get("game", ""), deterministic, seed)


def main(argv=None):
    """`python -m agents.policy`: play a saved policy in the world or the real game (module docstring)."""
    from .runner import main as run

    run("policy", lambda a: load_agent(a.policy, seed=a.seed),
        lambda p: p.add_argument("--policy", required=True, help="a policy directory (agent.json, policy.zip)"), argv)


if __name__ == "__main__":
    main()
