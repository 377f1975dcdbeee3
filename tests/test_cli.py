"""The `tv2tv` command as a user runs it (real console script, real engines)."""
import subprocess
import sys

import pytest

COMMANDS = ["record", "validate", "train", "play", "bench", "speed", "demo", "contexts", "train-judge", "distill"]


def tv2tv(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tv2tv_cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_help_lists_every_command():
    r = tv2tv("--help")
    assert r.returncode == 0
    for c in COMMANDS:
        assert c in r.stdout
    for c in COMMANDS:
        assert tv2tv(c, "--help").returncode == 0


def test_record_then_validate(tmp_path):
    out = tmp_path / "d"
    r = tv2tv("record", "--game", "doom", "--episodes", 2, "--max-chunks", 40, "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    v = tv2tv("validate", out)
    assert v.returncode == 0, v.stdout
    assert "2 good episodes" in v.stdout
    png = tmp_path / "strip.png"
    s = tv2tv("strip", out, "--out", png)
    assert s.returncode == 0 and png.stat().st_size > 10_000


def test_validate_names_a_bad_episode(doom_data, tmp_path):
    import shutil
    d = tmp_path / "d"
    shutil.copytree(doom_data, d)
    victim = sorted((d / "episodes").glob("*.h5"))[0]
    victim.write_bytes(b"\x00" * 100)
    v = tv2tv("validate", d)
    assert v.returncode == 1
    assert f"BAD {victim.name}" in v.stdout


@pytest.mark.parametrize("args, words", [
    (["record", "--game", "pong", "--episodes", 1, "--max-chunks", 1, "--out", "{tmp}/x"], "unknown game"),
    (["record", "--game", "doom", "--episodes", 1, "--max-chunks", 1, "--out", "{tmp}/x", "--width", 4], "frame size"),
    (["validate", "{tmp}/nothing"], "does not exist"),
])
def test_user_errors_are_one_line(tmp_path, args, words):
    r = tv2tv(*[str(a).format(tmp=tmp_path) for a in args])
    assert r.returncode == 2
    assert words in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_demo_plays_the_default_model_headless(tmp_path):
    import imageio.v3 as iio

    r = tv2tv("demo", "--headless", "--steps", 6, "--out", tmp_path / "demo")
    assert r.returncode == 0, r.stderr
    video = iio.imread(tmp_path / "demo" / "demo.mp4")
    assert video.shape[0] == 6 * 4 and video.shape[1] >= 512  # every generated frame, in the play window
    assert (tmp_path / "demo" / "strip.png").stat().st_size > 10_000
    assert "demo.mp4" in r.stdout and "strip.png" in r.stdout


def test_bad_checkpoint_is_a_one_line_error(tmp_path):
    r = tv2tv("speed", "--checkpoint", tmp_path / "none", "--num-envs", 1)
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr


def test_train_flags_reach_the_config(monkeypatch):
    """`tv2tv train`'s config flags (CONFIG_FLAGS) become the recipe's overrides, by field name;
    flags left out change nothing."""
    import tv2tv_cli.train_world as train_world
    from tv2tv_cli import build_parser

    seen = {}

    def fake_run(data, out, recipe, args, resume=False, progress=True):
        seen["overrides"] = recipe.overrides
        return {"stopped_by_signal": False, "step": 0}

    monkeypatch.setattr(train_world, "run_training", fake_run)
    a = build_parser().parse_args(["train", "--data", "d", "--out", "o", "--n-layers", "6", "--video-conv", "64",
                                   "--loss-action", "0.1", "--quiet"])
    assert a.func(a) == 0
    assert seen["overrides"] == {"n_layers": 6, "video_conv": 64, "loss_action": 0.1}
    a = build_parser().parse_args(["train", "--data", "d", "--out", "o", "--quiet"])
    a.func(a)
    assert seen["overrides"] is None
