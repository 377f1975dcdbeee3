"""`tv2tv build-world`: a game card to a trained, judged, benchmarked world in one command, each
stage skipped once done, and the world playable through the Gymnasium checker."""
import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import tv2tv_env  # noqa: F401  (registers the envs)
from tv2tv_cli.build_world import STAGES
from tv2tv_cli import main

TINY = ["--episodes", "10", "--max-chunks", "12", "--minutes", "1.5", "--decoder-minutes", "0.05", "--config", "tiny",
        "--batch-size", "4",
        "--bench-episodes", "1", "--long-horizon", "4",
        "--bench-args", "--off-topic-steps 4 --thought-steps 4 --outcome-chunks 4 --horizon 4"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("world") / "crafter"
    assert main(["build-world", "--game", "crafter", "--out", str(out), *TINY]) == 0
    return out


@pytest.mark.slow
def test_every_stage_makes_its_part(built, capsys):
    for part in ["model/model.safetensors", "model/train_progress.json", "vae/config.json", "tokenizer/tokenizer.json",
                 "contexts.npz", "judge/model.safetensors", "tiny_decoder/config.json", "bench/report.json", "bench/report.md", "README.md",
                 "build.json"]:
        assert (built / part).is_file(), part
    report = json.loads((built / "build.json").read_text())
    assert set(report) == set(STAGES[:-1]) and all(report[s] for s in report)
    assert report["record"]["episodes"] == 10
    steps = report["train"]["step"]
    assert steps > 0 and report["baselines"]["steps"] == steps  # T2V trained to TV2TV's step
    assert report["baselines"]["runs"]["prompt"]["step"] == steps
    bench = json.loads((built / "bench" / "report.json").read_text())
    assert len(bench["models"]) >= 3  # TV2TV, T2V, copy-last-frame
    card = (built / "README.md").read_text()
    assert "tv2tv build-world --game crafter" in card and "| train |" in card and "tv2tv bench" in card


@pytest.mark.slow
def test_a_second_run_skips_finished_stages_and_redoes_what_is_asked(built, capsys):
    before = (built / "model" / "model.safetensors").read_bytes()
    (built / "build" / "done" / "card.json").unlink()  # as if stopped before the last stage
    assert main(["build-world", "--game", "crafter", "--out", str(built), *TINY]) == 0
    lines = capsys.readouterr().out.splitlines()
    skipped = [s for s in STAGES if any(f"] {s}" in ln and "done before" in ln for ln in lines)]
    assert skipped == STAGES[:-1]
    assert any("] card" in ln and "done in" in ln for ln in lines)
    assert (built / "model" / "model.safetensors").read_bytes() == before


@pytest.mark.slow
def test_the_world_plays_through_the_checker(built):
    env = gym.make("TV2TV/World-v0", checkpoint=str(built))
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("move left")
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8 and env.unwrapped.game == "crafter"
    env.close()


@pytest.mark.parametrize("args, words", [
    ([], "exactly one of --game"),
    (["--game", "crafter", "--env", "ALE/Pong-v5"], "exactly one of --game"),
    (["--game", "crafter", "--card", "x.json"], "go with --env"),
    (["--game", "crafter", "--vae", "v", "--vae-init", "w"], "uses a VAE as it is"),
    (["--game", "crafter", "--vae-init", "OUT/vae"], "is the VAE this build writes"),
])
def test_bad_sources_are_named(tmp_path, capsys, args, words):
    args = [str(tmp_path / "w" / "vae") if x == "OUT/vae" else x for x in args]
    assert main(["build-world", "--out", str(tmp_path / "w"), *args]) == 2
    assert words in capsys.readouterr().err


def test_a_failing_stage_names_its_log(tmp_path, capsys):
    # a recording that is not one: the record stage is skipped, the VAE stage fails and says where to look
    (tmp_path / "data").mkdir()
    assert main(["build-world", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "w"), "--minutes", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "stage vae failed" in err and "logs/vae.log" in err and "run the same build-world command again" in err
