"""Shared fixtures: small datasets recorded by the tests from the real engines."""
import os
from pathlib import Path

import pytest

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "doom-small"  # VAE and tokenizer

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` are skipped, not failed, on a machine without CUDA."""
    gpu_tests = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_tests:
        return  # no torch import for a run that needs none
    import torch

    if not torch.cuda.is_available():
        for item in gpu_tests:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA device"))


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


def train_world(data, run, resume=False, **options):
    """`run_training` with keywords for the fields of its WorldRecipe and TrainArgs (the tests' shorthand)."""
    from tv2tv_cli.train_world import WorldRecipe, run_training
    from tv2tv_env.training.args import WORLD_MODEL_ARGS, split_options

    recipe, args = split_options(options, WorldRecipe(), WORLD_MODEL_ARGS)
    return run_training(data, run, recipe, args, resume=resume, progress=False)


def distill(checkpoint, data, out, student_steps=1, resume=False, eval_batches=1, **options):
    """`run_distill` with keywords for its TrainArgs' fields."""
    from tv2tv_env.training.args import DISTILL_ARGS, split_options
    from tv2tv_env.training.distill import run_distill

    (args,) = split_options(options, DISTILL_ARGS)
    return run_distill(checkpoint, data, out, student_steps, args, resume=resume, progress=False,
                       eval_batches=eval_batches)


@pytest.fixture(scope="session")
def tiny_run(doom_latent_data, tmp_path_factory):
    """A briefly trained `tiny` world model: a run directory the env loads as a checkpoint."""
    run = tmp_path_factory.mktemp("tiny_run") / "run"
    train_world(doom_latent_data, run, config="tiny", max_steps=40, batch_size=4, eval_every=1000, samples=False)
    return run


@pytest.fixture(scope="session")
def tiny_student(tiny_run, doom_latent_data, tmp_path_factory):
    """A one-step student of `tiny_run`, distilled for a few steps (`tv2tv distill`)."""
    out = tmp_path_factory.mktemp("tiny_student") / "distill"
    distill(tiny_run, doom_latent_data, out, max_steps=3, batch_size=2, eval_every=1000)
    return out / "student"
