"""`tv2tv speed`: generated frames per second, one stream and batched, with and without the KV cache.

Measured the way users meet the model: `env.step` of the single env (one stream) and of the
batched vector env (N streams in one model call), VAE decode included. "No cache" draws the
same chunks recomputing the whole retained stream at every Euler step
(`model.sampler.sample_without_cache`) plus the same decode; the ratio is what the cache buys.
"Imagined events": one stream whose model also writes the events it expects after each
command (`imagined_events=True`), what that costs. "Breakdown" (`--breakdown N ...`): where
a step's time goes, part by part, for those stream counts. "Last frame only": the vector env
with `frames="last"` (only the observation decoded). "Rolling cache": the same envs with the
sampler's rolling cache (model/sampler.py), and its speed-up over the exact cache.
"Distilled" (`--distilled DIR`): the same envs drawing with a student of `tv2tv distill`, and
its speed-up over the model's own steps with guidance. "Decoders": each decoder's time a frame
and, where the checkpoint ships a tiny decoder (`tv2tv train-tiny-decoder`, the envs' default
then), its PSNR against the full decoder and the real frames, and the envs again decoding with
the full decoder ("full_decoder", with its speed relative to the default).
All figures come from one run on one machine, side by side, and print as one JSON object.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from model import precision
from model.sampler import sample_without_cache
from model.vae import decode

from ..games import DEFAULT_GAME
from ..world import WorldModel

GOAL = {"one_stream_real_time_fps": 16, "one_stream_min_fps": 8, "h100_one_stream_fps": 100, "h100_batched_fps": 2000}
COMMANDS = ["turn left", "move forward", "shoot", "turn right", "strafe left", "stand still"]


def _timed(fn, repeats: int) -> float:
    fn()  # warm-up (first call allocates, and fills the context to its bounded size)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / repeats


def _stepper(world: WorldModel, num_envs: int, frames: str = "all"):
    """A reset env (or vector env: `frames` as its argument) of `num_envs` streams and a
    function that steps it once."""
    from ..env import TV2TVEnv
    from ..vector_env import TV2TVVectorEnv

    if num_envs == 1:
        env = TV2TVEnv(world=world)
        env.reset(seed=0)
        it = iter(range(10**9))
        return lambda: env.step(COMMANDS[next(it) % len(COMMANDS)])
    env = TV2TVVectorEnv(num_envs, world=world, frames=frames)
    env.reset(seed=0)
    acts = tuple(COMMANDS[i % len(COMMANDS)] for i in range(num_envs))
    return lambda: env.step(acts)


def measure_env(world: WorldModel, num_envs: int, repeats: int, frames: str = "all") -> dict:
    """Seconds per env step with the KV cache, through the (vector) env's own step. Frames/s
    count every frame of a chunk (it is played), also where only the last one is decoded."""
    return _figures(_timed(_stepper(world, num_envs, frames), repeats), num_envs, world.frames_per_chunk)


def breakdown(world: WorldModel, num_envs: int, repeats: int) -> dict:
    """Where an env step's time goes, in ms per step: the sampler's parts (the text it writes,
    the Euler steps, appending the clean chunk, the cache rebuild when the oldest chunk drops
    out, the rest of `sampler.step`) and everything around the sampler (reading the command,
    the VAE decode, the env); with the rolling cache, "cache_rebuild" is its cut. Timed by wrapping the sampler's methods on this instance for the
    measurement only; each second is counted once, in the innermost part."""
    s = world.sampler
    spent = {k: 0.0 for k in ["text", "euler_steps", "append_chunk", "cache_rebuild", "sampler_step"]}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0
        return wrapper

    euler, append = timed("euler_steps", s._run), timed("append_chunk", s._run)

    def run(*args, **kwargs):  # the Euler steps run the noisy tokens without appending them
        return (append if kwargs.get("append", True) else euler)(*args, **kwargs)

    step = _stepper(world, num_envs)
    for _ in range(world.context_chunks + 1):  # warm up, and fill the context as play does
        step()
    s.step, s._think, s.rebuild = timed("sampler_step", s.step), timed("text", s._think), timed("cache_rebuild", s.rebuild)
    s._drop_oldest_chunk = timed("cache_rebuild", s._drop_oldest_chunk)  # the rolling cache's update
    s._run = run
    try:
        t0 = time.perf_counter()
        for _ in range(repeats):
            step()
        total = time.perf_counter() - t0
    finally:
        for name in ["step", "_think", "rebuild", "_drop_oldest_chunk", "_run"]:
            del s.__dict__[name]  # the class's own methods again
    inner = spent["text"] + spent["euler_steps"] + spent["append_chunk"] + spent["cache_rebuild"]
    ms = lambda x: round(1000 * x / repeats, 2)  # noqa: E731
    return {"num_envs": num_envs, "cache": s.cache, "step_ms": ms(total), "parts_ms": {
        "text (thoughts, imagined events)": ms(spent["text"]), "euler_steps": ms(spent["euler_steps"]),
        "append_chunk": ms(spent["append_chunk"]), "cache_rebuild": ms(spent["cache_rebuild"]),
        "sampler_other": ms(spent["sampler_step"] - inner),
        "around_the_sampler (command, VAE decode, env)": ms(total - spent["sampler_step"])}}


def measure_no_cache(world: WorldModel, num_envs: int, repeats: int) -> dict:
    """Seconds per chunk for `num_envs` streams recomputing the stream at every Euler step."""
    world.reset([i % len(world) for i in range(num_envs)])
    for _ in range(world.context_chunks):  # fill the context as a long-running env has it
        world.step([COMMANDS[0]] * num_envs, [torch.Generator().manual_seed(i) for i in range(num_envs)])
    ids = [world.encode_text(COMMANDS[i % len(COMMANDS)]) for i in range(num_envs)]
    gens = [torch.Generator().manual_seed(i) for i in range(num_envs)]

    def chunk():
        with precision.autocast(world.device, world.dtype):
            lat = sample_without_cache(world.sampler, ids, gens)
        world.decode_latents(lat)  # the world's decoder, as its envs decode

    return _figures(_timed(chunk, repeats), num_envs, world.frames_per_chunk)


def measure_variant(world: WorldModel, num_envs, repeats: int, r: dict, key: str, ratio: str):
    """The envs of result `r` again, as `world` now samples (another cache mode, a student):
    every frame decoded into r[key], the last frame only into r[key + "_last_frame_only"], each
    figure with its speed-up (`ratio`) over r's default figure of the same width."""
    for suffix, base, frames in (("", "kv_cache", "all"), ("_last_frame_only", "last_frame_only", "last")):
        widths = [n for n in num_envs if frames == "all" or n > 1]  # one stream always decodes all
        figures = [measure_env(world, n, repeats, frames=frames) for n in widths]
        for default, fig in zip(r[base], figures):
            fig[ratio] = round(fig["frames_per_s"] / default["frames_per_s"], 2)
        r[key + suffix] = figures


@torch.no_grad()
def measure_decoders(world: WorldModel, repeats: int, batch: int = 32) -> dict:
    """Each decoder's time a frame (`batch` frames a call, the 8-stream step's 32) and the tiny
    decoder's PSNR against the full decoder and against the real frames of the checkpoint's start
    contexts (held-out play), beside the full decoder's own PSNR against them."""
    from model.tiny_decoder import tiny_decode
    from model.vae import psnr

    c = world.contexts
    lat = torch.from_numpy(c.latents[:, -1].astype("float32")).flatten(0, 1)  # (N, C, h, w): each start's last chunk
    real = torch.from_numpy(c.frames.reshape(-1, *c.frames.shape[-3:]))
    z = lat[:batch].to(world.device)
    with precision.autocast(world.device, world.dtype):
        full_s = _timed(lambda: decode(world.vae, z), repeats)
        tiny_s = _timed(lambda: tiny_decode(world.tiny_decoder, z), repeats) if world.tiny_decoder is not None else None
    full = torch.from_numpy(world.decode_latents(lat, full=True))
    out = {"frames_per_call": batch, "full_decoder_ms_per_frame": round(1000 * full_s / batch, 3),
           "full_decoder_psnr_vs_real": round(psnr(full, real), 2), "frames_compared": len(lat)}
    if tiny_s is not None:
        tiny = torch.from_numpy(world.decode_latents(lat))
        out.update(tiny_decoder_ms_per_frame=round(1000 * tiny_s / batch, 3), tiny_cost_share=round(tiny_s / full_s, 3),
                   tiny_decoder_psnr_vs_full=round(psnr(tiny, full), 2),
                   tiny_decoder_psnr_vs_real=round(psnr(tiny, real), 2))
    return out


@torch.no_grad()
def judge_through_decoders(world: WorldModel, judge_dir, data, max_pairs: int = 1024) -> dict:
    """The judge's action accuracy on held-out chunk pairs of `data`: on the real frames, and on
    their VAE round trips decoded by the full decoder and by the tiny one (what each decoder keeps
    of the cues the bench reads)."""
    from .judge import load_judge, load_pairs

    judge = load_judge(judge_dir)
    pairs = load_pairs(data, "heldout")
    pairs = pairs.subset(np.arange(min(max_pairs, len(pairs))))
    used = np.unique(np.concatenate([pairs.rows - 1, pairs.rows]))  # only the chunks these pairs read
    chunks = np.zeros_like(pairs.chunks)
    chunks[used] = pairs.chunks[used]

    def accuracy(c):
        pred = np.concatenate([judge.predict_actions(c[r - 1], c[r]) for r in np.array_split(pairs.rows, 16)])
        return round(float((pred == pairs.actions).mean()), 4)

    latents = world.encode_frames(chunks[used])
    out = {"pairs": len(pairs), "real": accuracy(chunks)}
    chunks[used] = world.decode_latents(latents, full=True)
    out["full_decoder"] = accuracy(chunks)
    if world.tiny_decoder is not None:
        chunks[used] = world.decode_latents(latents)
        out["tiny_decoder"] = accuracy(chunks)
    return out


def _figures(seconds: float, num_envs: int, frames_per_chunk: int) -> dict:
    return {"num_envs": num_envs, "step_ms": round(1000 * seconds, 1),
            "frames_per_s": round(num_envs * frames_per_chunk / seconds, 1),
            "frames_per_s_per_stream": round(frames_per_chunk / seconds, 1)}


def run_speed(checkpoint=None, game: str = DEFAULT_GAME, device: str = "auto", precisions=("auto", "fp32"),
              num_envs=(1, 8, 32), repeats: int = 6, no_cache: bool = True, breakdown_envs=(),
              rolling: bool = True, distilled=None, judge=None, data=None) -> dict:
    """`judge` and `data` (a judge directory and a recording): also the judge's accuracy through each decoder."""
    out = {"benchmark": "speed", "goal": GOAL, "results": []}
    seen = set()
    for prec in precisions:
        world = WorldModel(checkpoint, game=game, device=device, precision=prec, cache="exact")  # the rolling cache: below
        if world.dtype in seen:  # "auto" is fp32 on this machine: measure it once
            continue
        seen.add(world.dtype)
        out.setdefault("model", {k: v for k, v in world.describe().items()
                                 if k in ("checkpoint", "config", "sampling_steps", "guidance", "context_chunks")})
        r = {"machine": precision.describe(world.device, world.dtype), "kv_cache": [], "no_cache": []}
        for n in num_envs:
            r["kv_cache"].append(measure_env(world, n, repeats))
            if no_cache:
                r["no_cache"].append(measure_no_cache(world, n, max(1, repeats // 3)))
        r["breakdown"] = [breakdown(world, n, repeats) for n in breakdown_envs]
        # vector envs that decode only the observation (frames="last"), for RL
        r["last_frame_only"] = [measure_env(world, n, repeats, frames="last") for n in num_envs if n > 1]
        if rolling:  # the same envs with the rolling cache (no rebuild when the oldest chunk drops out)
            world.set_sampling(cache="rolling")
            measure_variant(world, num_envs, repeats, r, "rolling_cache", "speedup_over_exact")
            r["breakdown"] += [breakdown(world, n, repeats) for n in breakdown_envs]
            world.set_sampling(cache="exact")
        if distilled is not None:  # the same envs drawing with a distilled student (tv2tv distill)
            world.set_sampling(distilled=distilled)
            measure_variant(world, num_envs, repeats, r, "distilled", "speedup_over_full_steps")
            r["distilled_steps"] = world.sampler.student_steps
            world.set_sampling(distilled=False)
        r["decoders"] = measure_decoders(world, repeats)
        if judge is not None and data is not None:
            r["decoders"]["judge_accuracy"] = judge_through_decoders(world, judge, data)
        if world.tiny_decoder is not None:  # the same envs decoding with the full VAE decoder
            tiny, world.tiny_decoder = world.tiny_decoder, None
            measure_variant(world, num_envs, repeats, r, "full_decoder", "speed_over_tiny_decoder")
            world.tiny_decoder = tiny
        # one stream that also writes the events it expects after each command (imagined_events)
        world.set_sampling(imagined_events=True)
        r["imagined_events_one_stream"] = measure_env(world, 1, repeats)
        world.set_sampling(imagined_events=False)
        for cached, uncached in zip(r["kv_cache"], r["no_cache"]):
            cached["kv_cache_speedup"] = round(cached["frames_per_s"] / uncached["frames_per_s"], 2)
        one = r["kv_cache"][0] if r["kv_cache"] and r["kv_cache"][0]["num_envs"] == 1 else None
        if one is not None and world.device.type == "cpu":
            r["one_stream_real_time"] = bool(one["frames_per_s"] >= GOAL["one_stream_real_time_fps"])
        out["results"].append(r)
    best = max((c["frames_per_s"] for r in out["results"] for c in r["kv_cache"] if c["num_envs"] == 1), default=None)
    out["best_one_stream_fps"] = best
    out["best_batched_fps"] = max((c["frames_per_s"] for r in out["results"] for c in r["kv_cache"]), default=None)
    return out


if __name__ == "__main__":  # python -m tv2tv_env.bench.speed (same as `tv2tv speed`)
    import json

    print(json.dumps(run_speed(), indent=1))
