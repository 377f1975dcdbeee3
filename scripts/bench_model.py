"""World-model speed: training throughput and streaming-sampler speed, side by side in one run.

    python scripts/bench_model.py [--configs tiny small] [--batch 16] [--steps 6] [--precision auto fp32]

Training: tokens/s and predicted chunks/s of full training steps (forward, backward, AdamW)
on random latents shaped like the real ones, per config and precision. Sampling: one chunk
(text, `--sampling-steps` Euler steps with guidance as one batched call, clean append) with
the KV cache, and the same chunk recomputing the whole stream at every Euler step (no
cache); the ratio is the cache's speed-up. Prints one JSON object with the machine's CPU
capability, threads and dtype.
"""
import argparse
import json
import time

import torch

from model import precision
from model.config import get_config
from model.flow import training_loss
from model.mot import TV2TVModel
from model.sampler import StreamingSampler, sample_without_cache

SPECIAL = {"pad": 0, "bos": 1, "bof": 2, "eof": 3}
TEXT_LEN = 4  # tokens of a typical chunk description (recorded Doom text: mean 3.5, p99 11)


def fake_batch(cfg, B, gen):
    K = cfg.window_chunks
    lat = torch.randn(B, K, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.latent_size, generator=gen)
    texts = [[[4 + (b * K + k + i) % (cfg.vocab_size - 4) for i in range(TEXT_LEN)] for k in range(K)] for b in range(B)]
    return lat, texts, torch.zeros(B, K), torch.zeros(B, K)


def bench_train(cfg, B, steps, dtype, dev):
    torch.manual_seed(0)
    model = TV2TVModel(cfg).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(0)
    batch = fake_batch(cfg, B, gen)
    tok = chunks = 0
    for i in range(steps + 2):
        if i == 2:  # two warm-up steps
            t0, tok, chunks = time.perf_counter(), 0, 0
        with precision.autocast(dev, dtype):
            loss, parts = training_loss(model, batch[0].to(dev), batch[1], batch[2].to(dev), batch[3].to(dev), SPECIAL, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tok += parts["tokens"]
        chunks += parts["predicted_chunks"]
    dt = time.perf_counter() - t0
    n = sum(p.numel() for p in model.parameters())
    return {"params": n, "batch": B, "step_s": dt / steps, "tokens_per_s": tok / dt, "predicted_chunks_per_s": chunks / dt,
            "tokens_per_predicted_chunk": tok / chunks}


@torch.no_grad()
def bench_sampler(cfg, dev, dtype, sampling_steps, guidance, context, repeats=5):
    torch.manual_seed(0)
    model = TV2TVModel(cfg).to(dev).eval()
    gen = torch.Generator().manual_seed(0)
    lat, texts, _, _ = fake_batch(cfg, 1, gen)
    lat = lat[:, :1].repeat(1, context, 1, 1, 1, 1)
    texts = [[texts[0][0]] * context]
    cmd = texts[0][0]

    s = StreamingSampler(model, SPECIAL, steps=sampling_steps, guidance=guidance, context_chunks=context)
    with precision.autocast(dev, dtype):
        s.reset(lat, texts)
        s.step([cmd], [gen])  # warm-up; from here every step also rebuilds (context is full)
        t0 = time.perf_counter()
        for _ in range(repeats):
            s.step([cmd], [gen])
        cached = (time.perf_counter() - t0) / repeats

        # Without a cache: every Euler step runs the whole stream (context + text + noisy
        # chunk) for both guidance branches, as one batch (the reference the cache is tested against).
        t0 = time.perf_counter()
        for _ in range(repeats):
            sample_without_cache(s, [cmd], [gen])
        uncached = (time.perf_counter() - t0) / repeats
    return {"sampling_steps": sampling_steps, "guidance": guidance, "context_chunks": context,
            "chunk_ms_kv_cache": 1000 * cached, "chunk_ms_no_cache": 1000 * uncached,
            "kv_cache_speedup": uncached / cached,
            "frames_per_s_kv_cache": cfg.frames_per_chunk / cached, "note": "model only; VAE decode not included"}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", default=["tiny", "small"])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--precision", nargs="+", default=["auto", "fp32"])
    p.add_argument("--sampling-steps", type=int, default=6)
    p.add_argument("--guidance", type=float, default=3.0)
    p.add_argument("--device", default="auto")
    a = p.parse_args()
    dev = precision.resolve_device(a.device)
    out = {"benchmark": "model", "machine": precision.describe(dev, None), "results": []}
    seen = set()
    for name in a.configs:
        cfg = get_config(name, vocab_size=512)
        for prec in a.precision:
            dtype = precision.autocast_dtype(dev, prec)
            key = (name, dtype)
            if key in seen:
                continue
            seen.add(key)
            r = {"config": name, "dtype": "bf16" if dtype else "fp32",
                 "train": bench_train(cfg, a.batch, a.steps, dtype, dev),
                 "sample": bench_sampler(cfg, dev, dtype, a.sampling_steps, a.guidance, cfg.context_chunks)}
            out["results"].append(r)
            print(json.dumps(r), flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
