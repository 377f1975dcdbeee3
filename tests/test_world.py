"""The batched world model under the envs: the KV cache against recomputation, and `tv2tv speed`."""
import torch

from model.sampler import sample_without_cache
from tv2tv_env.world import WorldModel


def test_kv_cache_draws_the_same_chunk_as_recomputing(tiny_run):
    world = WorldModel(tiny_run, precision_mode="fp32")
    world.reset([0, 1], ["", "a prompt"])
    world.step(["turn left", "shoot"], [torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)])
    ids = [world.encode_text("move forward"), world.encode_text("strafe right and shoot")]
    ref = sample_without_cache(world.sampler, ids, [torch.Generator().manual_seed(5), torch.Generator().manual_seed(6)])
    out = world.sampler.step(ids, [torch.Generator().manual_seed(5), torch.Generator().manual_seed(6)])
    assert (ref - out.latents).abs().max() < 1e-4 * max(1.0, out.latents.abs().max().item())
    other = sample_without_cache(world.sampler, ids, [torch.Generator().manual_seed(7)] * 2)
    assert (other - out.latents).abs().max() > 1e-2  # the comparison can fail


def test_speed_reports_every_figure(tiny_run):
    from tv2tv_env.speed import run_speed

    out = run_speed(tiny_run, precisions=("fp32",), num_envs=(1, 2), repeats=1)
    (r,) = out["results"]
    assert [c["num_envs"] for c in r["kv_cache"]] == [1, 2] and len(r["no_cache"]) == 2
    for c in r["kv_cache"] + r["no_cache"]:
        assert c["frames_per_s"] > 0 and c["step_ms"] > 0
    assert r["kv_cache"][0]["kv_cache_speedup"] > 0 and out["best_one_stream_fps"] > 0
    assert r["imagined_events_one_stream"]["num_envs"] == 1 and r["imagined_events_one_stream"]["frames_per_s"] > 0
