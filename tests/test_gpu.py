"""The CUDA paths: the KV cache under bf16 autocast, a training run stopped and resumed from the
command line, and the env's `device=` placement. Skipped without a CUDA device (conftest.py)."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from test_model import SPECIAL, make_model

pytestmark = pytest.mark.gpu

# bf16 keeps 8 bits of mantissa (relative rounding 2^-8 ~ 0.4% per op); the cached and the full
# pass sum the same products in different orders, so they differ by a few roundings of values of
# order 1 (measured under CPU bf16 autocast: 0.004 at most, velocities up to 0.85). The bound leaves
# room for other GPU kernels and stays far below the velocity's own scale.
BF16_ATOL = BF16_RTOL = 3e-2


def streamed_velocity(model, lat, texts, sigma, x_noisy):
    """The last chunk's velocity through the streaming sampler's KV cache (test_model's CPU test)."""
    from model.sampler import StreamingSampler
    from model.sequence import NOISY

    cfg, dev = model.config, x_noisy.device
    B, K, n = lat.shape[0], lat.shape[1], cfg.tokens_per_chunk
    s = StreamingSampler(model, SPECIAL, guidance=1.0, context_chunks=8)
    s.reset(lat[:, :-1], [t[:-1] for t in texts])
    states = s._append_text_and_bof([t[-1] for t in texts])
    out = s._run(torch.zeros(B, n, dtype=torch.long, device=dev), torch.full((B, n), NOISY, device=dev),
                 s.next_order[:, None].expand(B, n), torch.full((B, n), K - 1, device=dev),
                 torch.arange(n, device=dev)[None].expand(B, n), x_noisy, torch.full((B, n), sigma, device=dev),
                 ext_cond=states, append=False)
    return out.velocity


def full_velocity(model, lat, texts, sigma, x_noisy):
    """One pass over the whole stream with a noisy copy of the last chunk (test_model's
    `full_forward_velocity`, with the layout on the model's device)."""
    from model.flow import patchify, scatter_video
    from model.sequence import NOISY, attention_mask, build_layout

    cfg, (B, K) = model.config, lat.shape[:2]
    lay = build_layout(texts, cfg.tokens_per_chunk, SPECIAL, [[k == K - 1 for k in range(K)]] * B).to(lat.device)
    x0 = patchify(lat, cfg.patch)
    noisy_values = torch.cat([x0[:, :-1], x_noisy[:, None]], 1)
    noisy = lay.kind == NOISY
    video = torch.where(noisy[..., None], scatter_video(lay, noisy_values), scatter_video(lay, x0))
    out = model(lay.ids, lay.kind, lay.order, lay.spatial, video, noisy.float() * sigma,
                attention_mask(lay.kind, lay.order, lay.chunk), cond=lay.cond)
    return out.velocity[noisy].view(B, cfg.tokens_per_chunk, -1)


@torch.no_grad()
def test_kv_cache_equals_the_full_pass_under_bf16_autocast():
    torch.manual_seed(1)
    model = make_model().cuda()
    cfg = model.config
    lat = torch.randn(2, 3, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.latent_size, device="cuda")
    texts = [[[5, 6, 7], [8], [9, 10]], [[11], [12, 13, 14, 15], []]]
    x_noisy = torch.randn(2, cfg.tokens_per_chunk, cfg.patch_dim, device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        full = full_velocity(model, lat, texts, 0.7, x_noisy).float()
        streamed = streamed_velocity(model, lat, texts, 0.7, x_noisy).float()
    torch.testing.assert_close(streamed, full, atol=BF16_ATOL, rtol=BF16_RTOL)
    # and both stay near the fp32 answer: autocast changed the arithmetic, not the computation
    reference = full_velocity(model, lat, texts, 0.7, x_noisy)
    torch.testing.assert_close(streamed, reference, atol=BF16_ATOL, rtol=BF16_RTOL)
    assert full.abs().max() > 10 * BF16_ATOL  # the tolerance is small against what is compared


def tv2tv_train(data, run, max_steps: int, *extra) -> dict:
    """`tv2tv train` of the tiny config on CUDA in its own process; its JSON summary."""
    cmd = [sys.executable, "-m", "tv2tv_cli", "train", "--data", str(data), "--out", str(run), "--device", "cuda",
           "--config", "tiny", "--max-steps", str(max_steps), "--batch-size", "4", "--eval-every", "1000",
           "--no-samples", "--quiet", *extra]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_cuda_training_run_stops_and_resumes_from_the_command_line(doom_latent_data, tmp_path):
    run = tmp_path / "run"
    first = tv2tv_train(doom_latent_data, run, 4)
    assert first["step"] == 4 and first["device"].startswith("cuda")
    assert first["dtype"] == ("bf16" if torch.cuda.is_bf16_supported() else "fp32")  # auto precision on a GPU
    state = torch.load(run / "ckpt" / "train_state.pt", map_location="cpu", weights_only=False)
    assert state["step"] == 4

    resumed = tv2tv_train(doom_latent_data, run, 8, "--resume")
    assert resumed["step"] == 8 and np.isfinite(resumed["loss_last"])
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert sum(r.get("event") == "start" for r in rows) == 1  # it went on from step 4, not from scratch
    assert [r["step"] for r in rows if r.get("event") == "stop"] == [4, 8]
    state = torch.load(run / "ckpt" / "train_state.pt", map_location="cpu", weights_only=False)
    assert state["step"] == 8


def test_the_env_puts_its_world_model_on_the_device_asked():
    import gymnasium as gym

    import tv2tv_env  # noqa: F401 - registers the envs

    env = gym.make("TV2TV/Doom-v0", device="cuda")
    world = env.unwrapped.world
    for net in (world.model, world.vae):
        assert {p.device.type for p in net.parameters()} == {"cuda"}
    obs, _ = env.reset(seed=0)
    obs = env.step("move forward")[0]
    assert isinstance(obs, np.ndarray) and obs.dtype == np.uint8 and env.observation_space.contains(obs)
    env.close()
