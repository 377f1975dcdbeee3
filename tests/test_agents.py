"""Agents that send text: scripts, random phrasing, replay, the runner and the PPO example."""
import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import tv2tv_env  # noqa: F401
from agents.random_agent import RandomTextAgent
from agents.replay import ReplayAgent
from agents.runner import run_agent
from agents.scripted import ScriptedAgent, parse_script
from tv2tv_env.commands import check_command


def test_numbered_script_holds_each_command():
    agent = ScriptedAgent(parse_script("# demo\n0 turn left\n3 shoot   # fire!\n5 -\n"))
    assert [agent.act() for _ in range(7)] == ["turn left"] * 3 + ["shoot"] * 2 + ["", ""]
    looped = ScriptedAgent(parse_script("0 a\n2 b\n"), loop=True)
    assert [looped.act() for _ in range(6)] == ["a", "a", "b", "a", "a", "b"]


def test_plain_script_is_one_line_per_step():
    assert parse_script("turn left\n\nshoot\n-\n") == [(0, "turn left"), (1, "shoot"), (2, "")]


@pytest.mark.parametrize("text, words", [("", "empty"), ("0 a\nshoot\n", "either every line"),
                                         ("3 a\n1 b\n", "not after step 3")])
def test_bad_scripts_name_the_line(text, words):
    with pytest.raises(ValueError, match=words):
        parse_script(text)


def test_random_agent_speaks_valid_varied_commands():
    a, b = RandomTextAgent(seed=1), RandomTextAgent(seed=1)
    cmds = [a.act() for _ in range(300)]
    assert cmds == [b.act() for _ in range(300)]  # seeded
    for c in cmds:
        check_command(c)
    assert "" in cmds and any(" and " in c for c in cmds) and len(set(cmds)) > 40


def test_replay_agent_feeds_recorded_text(doom_data):
    from tv2tv_env.data.dataset import episode_paths, read_episode

    agent = ReplayAgent.from_dataset(doom_data, episode=0)
    texts = read_episode(episode_paths(doom_data)[0], frames=False).text
    assert [agent.act() for _ in range(len(texts) + 2)] == texts + [texts[-1]] * 2
    with pytest.raises(ValueError, match="episodes"):
        ReplayAgent.from_dataset(doom_data, episode=99)


def test_runner_writes_a_captioned_video(tiny_run, tmp_path):
    import imageio.v3 as iio

    env = gym.make("TV2TV/Doom-v0", checkpoint=tiny_run, render_mode="rgb_array", max_episode_steps=3)
    out = run_agent(env, ScriptedAgent(parse_script("turn left\nshoot\n-\n")), steps=5, video=tmp_path / "a.mp4")
    assert out["steps"] == 5 and out["episodes_finished"] == 1 and out["model_thought_steps"] >= 1
    frames = iio.imread(tmp_path / "a.mp4")
    assert frames.shape[0] == 5 * 4 and frames.shape[2] == 256  # every generated frame, 4x, with a caption
    assert frames.shape[1] > 256


def test_checking_a_command_loads_no_model_stack():
    """The keyboard agent and the wrappers check commands through tv2tv_env.commands alone."""
    code = ("import sys, agents.keyboard, tv2tv_env.wrappers, tv2tv_env.commands; "
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_agents_have_help():
    for mod in ["agents.random_agent", "agents.scripted", "agents.replay", "agents.ppo", "agents.rl_transfer"]:
        out = subprocess.run([sys.executable, "-m", mod, "--help"], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and ("--steps" in out.stdout or "--timesteps" in out.stdout), (mod, out.stderr)


def test_ppo_example_trains_and_reports(tiny_run, tmp_path, capsys):
    pytest.importorskip("stable_baselines3", reason="stable-baselines3 (extra `rl`) missing")
    from agents.ppo import main

    main(["--checkpoint", str(tiny_run), "--timesteps", "16", "--n-steps", "16", "--episode-steps", "4",
          "--eval-episodes", "1", "--out", str(tmp_path / "ppo")])
    import json

    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert np.isfinite(report["ppo_mean_return"]) and np.isfinite(report["random_mean_return"])
    assert (tmp_path / "ppo.zip").is_file()


def test_rl_transfer_scores_both_policies_on_the_real_engine(tiny_run, tmp_path, capsys, monkeypatch):
    """`tv2tv rl-transfer`, tiny: PPO in the world model and on the real engine, each scored on
    the same real episodes before and after training, beside a random policy."""
    pytest.importorskip("stable_baselines3", reason="stable-baselines3 (extra `rl`) missing")
    import json

    from agents.policy import load_agent
    from agents.rl_transfer import episode_returns, make_env
    from tv2tv_cli import main

    out = tmp_path / "transfer"
    assert main(["rl-transfer", "--checkpoint", str(tiny_run), "--steps", "16", "--n-steps", "8", "--episode-steps",
                 "3", "--eval-episodes", "2", "--evals", "1", "--dream-episodes", "2", "--out", str(out)]) == 0
    r = json.loads((out / "report.json").read_text())
    # survival in chunks beside the returns; in the dream too, counted from the episode's start
    # (its start context's 4 real chunks and the imagined ones), cut at the real episodes' cap
    assert r["random"]["survival"]["chunks"]["n"] == 2 and r["dream"]["in_dream"]["chunks"]["n"] == 2
    assert r["random_in_dream"]["chunks"]["mean"] == 3 and "tics" not in r["random"]["survival"]
    for world in ["dream", "real"]:
        assert [p["steps"] for p in r[world]["curve"]] == [0, 16] and r[world]["trained_steps"] == 16
        assert len(r[world]["final_returns"]) == 2 and r[world]["steps_per_s"] > 0
        agent = load_agent(out / f"{world}-policy")  # a text agent: the same commands as the env's
        assert agent.commands == r["commands"] and agent.deterministic
    # the random policy's returns are the real engine's: the same episodes played again give them back
    env = make_env("real", "doom", 3, 0)
    rng = np.random.default_rng(0)
    again = episode_returns(env, lambda o: int(rng.integers(env.action_space.n)), 2, 1_000_000)
    assert r["random"]["mean"] == pytest.approx(float(again.mean()))
    assert "Transfer ratio" in (out / "report.md").read_text() and (out / "return_vs_steps.png").stat().st_size > 1000
    assert "transfer_ratio" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # scripts/rl_eval.py scores the saved policies both ways on the same real episodes: played
    # deterministically they give back rl-transfer's own final returns
    import runpy

    monkeypatch.setattr(sys, "argv", ["rl_eval.py", "--run", str(out), "--episodes", "2"])
    runpy.run_path(str(Path(__file__).parents[1] / "scripts" / "rl_eval.py"), run_name="__main__")
    e = json.loads((out / "eval.json").read_text())
    for world in ["dream", "real"]:
        assert e[f"{world}_deterministic"]["mean"] == pytest.approx(float(np.mean(r[world]["final_returns"])))
        assert e[f"{world}_sampled"]["n"] == 2 and e[f"{world}_mode"][0] in env.commands
    assert e["random"]["mean"] == pytest.approx(r["random"]["mean"])
    assert set(e["ratio_sampled"]) == {"ratio", "ci95"}


def test_a_batched_world_trains_ppo_with_sb3_autoreset(tiny_run):
    """agents/sb3_vec.WorldVecEnv: PPO collects from a batched world; a sub-env that ends hands
    SB3 its last frame as terminal_observation and is already in its next episode."""
    pytest.importorskip("stable_baselines3", reason="stable-baselines3 (extra `rl`) missing")
    from stable_baselines3 import PPO

    from agents.sb3_vec import WorldVecEnv
    from tv2tv_env.vector_env import TV2TVVectorEnv

    env = WorldVecEnv(TV2TVVectorEnv(2, checkpoint=tiny_run, max_episode_steps=2, frames="last"))
    env.seed(5)
    obs = env.reset()
    assert obs.shape == (2, *env.observation_space.shape) and env.action_space.n == len(env.commands)
    _, _, done, infos = env.step(np.array([0, 1]))
    assert not done.any() and "terminal_observation" not in infos[0]
    last, reward, done, infos = env.step(np.array([1, 0]))
    assert done.all() and reward.dtype == np.float32
    assert all(info["TimeLimit.truncated"] and info["terminal_observation"].shape == obs.shape[1:] for info in infos)
    assert not env.venv._autoreset.any() and (env.venv._steps == 0).all()  # no step lost to next-step autoreset
    with pytest.raises(ValueError, match="Discrete"):
        env.step(np.array([0, len(env.commands)]))
    model = PPO("CnnPolicy", env, n_steps=4, batch_size=8, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=8)
    assert model.num_timesteps == 8


def test_rl_transfer_needs_whole_rollouts_per_env(tiny_run, tmp_path, capsys):
    pytest.importorskip("stable_baselines3", reason="stable-baselines3 (extra `rl`) missing")
    from tv2tv_cli import main

    assert main(["rl-transfer", "--checkpoint", str(tiny_run), "--n-steps", "10", "--n-envs", "4",
                 "--out", str(tmp_path / "t")]) == 2
    assert "multiple of --n-envs" in capsys.readouterr().err


def test_rl_transfer_trains_one_world_alone(tiny_run, tmp_path, capsys):
    """--no-dream: the engine's PPO alone (how far the learner gets without the world model);
    the report and the printed summary then have no transfer ratio. Both flags: refused."""
    pytest.importorskip("stable_baselines3", reason="stable-baselines3 (extra `rl`) missing")
    from tv2tv_cli import main

    out = tmp_path / "engine"
    assert main(["rl-transfer", "--no-dream", "--steps", "8", "--n-steps", "8", "--episode-steps", "4",
                 "--eval-episodes", "2", "--evals", "1", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    report = json.loads((out / "report.json").read_text())
    assert "real" in printed and "dream" not in printed and "transfer_ratio" not in printed
    assert "dream" not in report and report["real"]["trained_steps"] == 8 and (out / "real-policy").is_dir()
    assert main(["rl-transfer", "--checkpoint", str(tiny_run), "--no-dream", "--no-real", "--out", str(out)]) == 2
    assert "leave nothing to train" in capsys.readouterr().err


def test_transfer_ratio_interval():
    from agents.rl_transfer import mean_ci, ratio_ci

    a, b = np.array([1.0, 2.0, 3.0, 2.0]), np.array([2.0, 4.0, 6.0, 4.0])
    r = ratio_ci(a, b, seed=0)
    assert r["ratio"] == pytest.approx(0.5) and r["ci95"][0] == pytest.approx(0.5) and r["ci95"][1] == pytest.approx(0.5)
    m = mean_ci(np.array([0.0, 2.0]))
    assert m["mean"] == 1.0 and m["ci95"][0] < 1.0 < m["ci95"][1]
    assert np.isnan(ratio_ci(a, np.zeros(4), seed=0)["ratio"])


def test_rl_transfer_chooses_the_dream_decoder(tiny_run):
    """`--decoder` reaches the dream's envs (the issue-43 before/after of dream PPO); without it the
    world's default holds. A checkpoint without a tiny decoder refuses `tiny`, naming it."""
    import argparse

    from agents.rl_transfer import add_arguments, dream_options, make_env

    p = argparse.ArgumentParser()
    add_arguments(p)
    assert "decoder" not in dream_options(p.parse_args([]))
    opts = dream_options(p.parse_args(["--checkpoint", str(tiny_run), "--decoder", "full"]))
    assert opts["decoder"] == "full" and opts["frames"] == "last"
    env = make_env("dream", "doom", 2, 0, opts)
    obs, *_ = env.step(0)
    assert obs.shape == env.observation_space.shape
    with pytest.raises(Exception, match="tiny_decoder"):
        make_env("dream", "doom", 2, 0, {**opts, "decoder": "tiny"})
