"""Shared fixtures: small datasets recorded by the tests from the real engines."""
import os
from pathlib import Path

import pytest

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "doom-small"  # VAE and tokenizer

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


@pytest.fixture(scope="session")
def doom_data(tmp_path_factory):
    """3 short Doom episodes (both default scenarios), recorded once per test session."""
    from tv2tv_env.data.record import record

    out = tmp_path_factory.mktemp("doom") / "data"
    record("doom", episodes=3, max_chunks=12, out=out, seed=0, progress=False)
    return out


@pytest.fixture(scope="session")
def crafter_data(tmp_path_factory):
    from tv2tv_env.data.record import record

    out = tmp_path_factory.mktemp("crafter") / "data"
    record("crafter", episodes=2, max_chunks=10, out=out, seed=0, progress=False)
    return out


@pytest.fixture(scope="session")
def doom_latent_data(tmp_path_factory):
    """4 Doom episodes with their latent cache, encoded by the shipped VAE."""
    from tv2tv_env.data.latents import cache_latents
    from tv2tv_env.data.record import record

    out = tmp_path_factory.mktemp("doom_latent") / "data"
    record("doom", episodes=4, max_chunks=16, out=out, seed=50, progress=False)
    cache_latents(out, SHIPPED / "vae", progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_run(doom_latent_data, tmp_path_factory):
    """A briefly trained `tiny` world model: a run directory the env loads as a checkpoint."""
    from tv2tv_env.cli.train_world import run_training

    run = tmp_path_factory.mktemp("tiny_run") / "run"
    run_training(doom_latent_data, run, config="tiny", max_steps=40, batch_size=4, eval_every=1000, samples=False,
                 progress=False)
    return run


@pytest.fixture(scope="session")
def tiny_student(tiny_run, doom_latent_data, tmp_path_factory):
    """A one-step student of `tiny_run`, distilled for a few steps (`tv2tv distill`)."""
    from tv2tv_env.cli.distill import run_distill

    out = tmp_path_factory.mktemp("tiny_student") / "distill"
    run_distill(tiny_run, doom_latent_data, out, student_steps=1, max_steps=3, batch_size=2, eval_every=1000,
                progress=False, eval_batches=1)
    return out / "student"
