"""The VAE latent cache: shapes, encode once, stale detection, windows like iter_windows."""
import json
import logging
import shutil

import numpy as np
import pytest
import torch

from model.vae import VAEConfig, build_vae, encode
from tv2tv_env.data.dataset import episode_paths, iter_windows
from tv2tv_env.errors import UserError
from tv2tv_env.data.latents import (CACHE_META, cache_latents, encode_dataset, iter_latent_windows, read_latent_episode,
                               vae_key)

TINY = VAEConfig(block_out_channels=(16, 32), layers_per_block=1, latent_channels=4, norm_num_groups=8)


def _save_vae(path, seed=0):
    torch.manual_seed(seed)
    vae = build_vae(TINY)
    vae.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def cached(doom_data, tmp_path_factory):
    """A copy of the Doom fixture (the cache is written beside the data) and a tiny VAE."""
    root = tmp_path_factory.mktemp("latents")
    data = root / "data"
    shutil.copytree(doom_data, data)
    vae_dir = _save_vae(root / "vae")
    summary = encode_dataset(data, vae_dir, batch=32, progress=False, precision_mode="fp32")
    return data, vae_dir, summary


@pytest.fixture(scope="module")
def vae(cached):
    from diffusers import AutoencoderKL

    return AutoencoderKL.from_pretrained(cached[1], torch_dtype=torch.float32, low_cpu_mem_usage=False).eval()


def test_shapes_and_values(cached, vae):
    import h5py

    from tv2tv_env.data.dataset import read_episode

    data, vae_dir, summary = cached
    cache = data / "latents" / vae_key(vae_dir)
    assert summary["cache"] == str(cache) and summary["skipped"] == 0
    assert summary["episodes"] == len(episode_paths(data)) == 3
    meta = json.loads((cache / CACHE_META).read_text())
    assert meta["latent_shape"] == [4, 32, 32] and meta["key"] == vae_key(vae_dir)
    frames = 0
    for path in episode_paths(data):
        ep = read_episode(path)
        with h5py.File(cache / path.name) as f:
            chunks, start = f["chunks"][()], f["start"][()]
        T = len(ep)
        assert chunks.shape == (T, 4, 4, 32, 32) and chunks.dtype == np.float16
        assert start.shape == (4, 32, 32) and start.dtype == np.float16
        want = encode(vae, torch.from_numpy(ep.frames[2])).numpy()
        np.testing.assert_allclose(chunks[2].astype(np.float32), want, atol=2e-2, rtol=2e-3)
        frames += T * 4 + 1
    assert summary["frames"] == frames
    assert not list(cache.glob("*.tmp"))


def test_second_call_does_no_work(cached):
    data, vae_dir, _ = cached
    cache = data / "latents" / vae_key(vae_dir)
    before = {p.name: p.stat().st_mtime_ns for p in cache.glob("ep_*.h5")}
    again = encode_dataset(data, vae_dir, progress=False, precision_mode="fp32")
    assert again["episodes"] == 0 and again["frames"] == 0 and again["cached"] == 3
    assert {p.name: p.stat().st_mtime_ns for p in cache.glob("ep_*.h5")} == before
    assert cache_latents(data, vae_dir, progress=False) == cache


def test_windows_line_up_with_iter_windows(cached, vae):
    data, vae_dir, _ = cached
    for split, seed, shuffle in [("train", 0, True), ("all", 5, True), ("heldout", 0, False)]:
        pix = list(iter_windows(data, 3, split=split, seed=seed, epochs=2, shuffle=shuffle))
        lat = list(iter_latent_windows(data, vae_dir, 3, split=split, seed=seed, epochs=2, shuffle=shuffle))
        assert len(pix) == len(lat) > 0
        for a, b in zip(pix, lat):
            assert (a["episode"], a["start"], a["text"]) == (b["episode"], b["start"], b["text"])
            for k in ["action", "buttons", "reward", "terminated"]:
                np.testing.assert_array_equal(a[k], b[k])
            assert b["latents"].shape == (3, 4, 4, 32, 32) and b["latents"].dtype == np.float32
            assert b["prev"].shape == (4, 32, 32) and b["prev"].dtype == np.float32
    # prev is the latent of the frame before the window (the start frame at start 0)
    seen_zero = False
    for a, b in zip(iter_windows(data, 2, split="all", seed=1), iter_latent_windows(data, vae_dir, 2, split="all", seed=1)):
        want = encode(vae, torch.from_numpy(np.asarray(a["prev_frame"])[None]))[0].numpy()
        np.testing.assert_allclose(b["prev"], want, atol=2e-2, rtol=2e-3)
        want = encode(vae, torch.from_numpy(a["frames"][:, -1])).numpy()
        np.testing.assert_allclose(b["latents"][:, -1], want, atol=2e-2, rtol=2e-3)
        seen_zero |= b["start"] == 0
    assert seen_zero


def test_key_names_the_vae(cached, tmp_path):
    data, vae_dir, _ = cached
    other = _save_vae(tmp_path / "vae2", seed=1)
    assert vae_key(other) != vae_key(vae_dir)
    assert vae_key(vae_dir) == vae_key(vae_dir)
    # no cache for the other VAE yet: a clear error, not stale latents
    with pytest.raises(UserError, match="tv2tv encode"):
        next(iter_latent_windows(data, other, 2))
    # the key itself names the cache as well as the VAE directory does
    w = next(iter_latent_windows(data, vae_key(vae_dir), 2, shuffle=False))
    assert w["start"] == 0
    with pytest.raises(UserError):
        vae_key(tmp_path / "missing")


def test_stale_bad_and_missing(doom_data, tmp_path, caplog):
    data = tmp_path / "data"
    shutil.copytree(doom_data, data)
    vae_dir = _save_vae(tmp_path / "vae")
    cache = cache_latents(data, vae_dir, progress=False, precision_mode="fp32")
    paths = episode_paths(data)
    # a broken cache file is encoded again; a missing one too
    (cache / paths[0].name).write_bytes(b"garbage")
    (cache / paths[1].name).unlink()
    s = encode_dataset(data, vae_dir, progress=False, precision_mode="fp32")
    assert (s["episodes"], s["cached"]) == (2, 1)
    # a missing cache entry of a good episode is an error when reading windows
    (cache / paths[1].name).unlink()
    with pytest.raises(UserError, match="has no latents"):
        read_latent_episode(data, cache, paths[1])
    # a bad episode file is skipped with a warning
    paths[2].write_bytes(paths[2].read_bytes()[:500])
    with caplog.at_level(logging.WARNING):
        s = encode_dataset(data, vae_dir, progress=False, precision_mode="fp32")
    assert s["skipped"] == 1 and s["episodes"] == 1 and s["cached"] == 1
    assert any("skipping bad episode" in r.message and paths[2].name in r.message for r in caplog.records)
    windows = list(iter_latent_windows(data, vae_dir, 2, split="all"))
    assert windows and paths[2].name not in {w["episode"] for w in windows}


def test_contexts_leave_out_episodes_not_encoded_yet(cached, tmp_path):
    """An interrupted `tv2tv encode`: training uses the encoded episodes, and so do the start
    contexts a run writes (none from the episode whose latents are missing)."""
    from tv2tv_env.data.contexts import make_contexts
    from tv2tv_env.data.latents import cache_dir

    data, vae_dir, _ = cached
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    full = make_contexts(data, vae_dir)
    first = str(full.source[0]).split(":")[0]  # an episode the contexts come from
    (cache_dir(copy, vae_dir) / first).unlink()
    partial = make_contexts(copy, vae_dir)
    assert len(partial) > 0 and not any(s.startswith(first + ":") for s in partial.source)


def test_cli_encode(cached, capsys):
    from tv2tv_cli import main

    data, vae_dir, _ = cached
    assert main(["encode", "--data", str(data), "--vae", str(vae_dir), "--device", "cpu", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["episodes"] == 0 and out["cached"] == 3 and out["cache"] == str(data / "latents" / vae_key(vae_dir))
    assert {"frames", "seconds", "device", "dtype"} <= set(out)
    assert main(["encode", "--data", str(data), "--vae", str(data / "nope"), "--quiet"]) == 2
