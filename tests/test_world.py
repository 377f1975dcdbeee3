"""The batched world model under the envs: the KV cache against recomputation, and `tv2tv speed`."""
import pytest
import torch

from model.sampler import sample_without_cache
from tv2tv_env.world import WorldModel


def test_kv_cache_draws_the_same_chunk_as_recomputing(tiny_run):
    world = WorldModel(tiny_run, precision="fp32", cache="exact")  # a rebuild after a drop: exact
    world.reset([0, 1], ["", "a prompt"])
    world.step(["turn left", "shoot"], [torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)])
    ids = [world.encode_text("move forward"), world.encode_text("strafe right and shoot")]
    ref = sample_without_cache(world.sampler, ids, [torch.Generator().manual_seed(5), torch.Generator().manual_seed(6)])
    out = world.sampler.step(ids, [torch.Generator().manual_seed(5), torch.Generator().manual_seed(6)])
    assert (ref - out.latents).abs().max() < 1e-4 * max(1.0, out.latents.abs().max().item())
    other = sample_without_cache(world.sampler, ids, [torch.Generator().manual_seed(7)] * 2)
    assert (other - out.latents).abs().max() > 1e-2  # the comparison can fail


def test_rolling_cache_through_the_world(tiny_run):
    from tv2tv_env.errors import UserError

    with pytest.raises(UserError, match="rolling"):
        WorldModel(tiny_run, precision="fp32", cache="nearest")
    worlds = {m: WorldModel(tiny_run, precision="fp32", cache=m) for m in ("exact", "rolling")}
    chunks = {}
    for mode, world in worlds.items():
        assert world.describe()["cache"] == mode
        world.reset([0, 1])
        gens = [torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)]
        chunks[mode] = [world.sampler.step([world.encode_text("turn left")] * 2, gens).latents
                        for _ in range(world.context_chunks + 2)]
        assert world.sampler.n_chunks == world.context_chunks  # the oldest chunks left the cache
    assert torch.allclose(chunks["exact"][0], chunks["rolling"][0], atol=1e-4)  # the same until a chunk drops
    assert all(torch.isfinite(c).all() for c in chunks["rolling"])


def test_speed_reports_every_figure(tiny_run, tiny_student):
    from tv2tv_env.bench.speed import breakdown, run_speed

    out = run_speed(tiny_run, precisions=("fp32",), num_envs=(1, 2), repeats=1, breakdown_envs=(1, 2),
                    distilled=tiny_student)
    (r,) = out["results"]
    assert r["distilled_steps"] == 1 and [c["num_envs"] for c in r["distilled"]] == [1, 2]
    assert r["distilled"][1]["speedup_over_full_steps"] > 0 and len(r["distilled_last_frame_only"]) == 1
    # exact cache first, then the same stream counts with the rolling cache
    assert [(b["num_envs"], b["cache"]) for b in r["breakdown"]] == [(1, "exact"), (2, "exact"),
                                                                     (1, "rolling"), (2, "rolling")]
    assert [c["num_envs"] for c in r["rolling_cache"]] == [1, 2] and r["rolling_cache"][0]["speedup_over_exact"] > 0
    assert [c["num_envs"] for c in r["rolling_cache_last_frame_only"]] == [2]
    assert [c["num_envs"] for c in r["last_frame_only"]] == [2] and r["last_frame_only"][0]["frames_per_s"] > 0
    for b in r["breakdown"]:  # the parts make up the step
        parts = b["parts_ms"]
        assert all(v >= 0 for v in parts.values()) and parts["euler_steps"] > 0 and parts["append_chunk"] > 0, b
        assert sum(parts.values()) == pytest.approx(b["step_ms"], abs=0.05)
        assert parts["text (thoughts, imagined events)"] == 0  # given commands: the model writes nothing
    # with imagined events the model writes after each command; the sampler gets its own methods back
    world = WorldModel(tiny_run, precision="fp32", imagined_events=True)
    b = breakdown(world, 1, 2)
    assert b["parts_ms"]["text (thoughts, imagined events)"] > 0
    assert not {"step", "_think", "rebuild", "_drop_oldest_chunk", "_run"} & set(vars(world.sampler))
    assert [c["num_envs"] for c in r["kv_cache"]] == [1, 2] and len(r["no_cache"]) == 2
    for c in r["kv_cache"] + r["no_cache"]:
        assert c["frames_per_s"] > 0 and c["step_ms"] > 0
    assert r["kv_cache"][0]["kv_cache_speedup"] > 0 and out["best_one_stream_fps"] > 0
    assert r["imagined_events_one_stream"]["num_envs"] == 1 and r["imagined_events_one_stream"]["frames_per_s"] > 0
