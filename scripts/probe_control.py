"""A quick look at control before the full benchmark (issue 6): does the generated view
move the way the command says?

    python scripts/probe_control.py RUN_OR_CHECKPOINT --data data/doom [--windows 24]

From held-out real contexts (2 real chunks), generate one chunk per command and measure
(a) the horizontal image shift between the context's last frame and the generated chunk's
last frame (best match over -12..12 px on the upper part of the view, above the weapon;
turning left moves the scene right: positive), and (b) the brightness change around the
muzzle (shooting flashes). The same measures on real held-out chunks of each action are
printed beside them. One JSON object. Not a substitute for the inverse-dynamics judge.
"""
import argparse
import json
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL

from model.command_encoder import token_command_fn
from model.mot import TV2TVModel
from model.sampler import StreamingSampler
from model.tokenizer import load_tokenizer, special_ids
from model.train import find_checkpoint
from model.vae import decode
from tv2tv_env.games import get_card
from tv2tv_env.data.training_data import LatentWindows

COMMANDS = {"turn_left": "turn left", "turn_right": "turn right", "forward": "move forward",
            "shoot": "shoot", "idle": "stand still"}


def shift(prev: np.ndarray, cur: np.ndarray, rows=slice(0, 36), max_dx=12) -> int:
    a, b = prev[rows].astype(np.float32), cur[rows].astype(np.float32)
    W = a.shape[1]
    errs = []
    for dx in range(-max_dx, max_dx + 1):
        if dx >= 0:
            e = ((b[:, dx:] - a[:, :W - dx]) ** 2).mean()
        else:
            e = ((b[:, :W + dx] - a[:, -dx:]) ** 2).mean()
        errs.append(e)
    return int(np.argmin(errs)) - max_dx


def flash(prev: np.ndarray, cur: np.ndarray) -> float:
    region = (slice(34, 52), slice(24, 40))
    return float(cur[region].astype(np.float32).mean() - prev[region].astype(np.float32).mean())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run")
    p.add_argument("--data", default="data/doom")
    p.add_argument("--windows", type=int, default=24)
    p.add_argument("--guidance", type=float, default=3.0)
    a = p.parse_args()
    run = Path(a.run)
    ckpt = find_checkpoint(run)
    model = TV2TVModel.from_pretrained(ckpt / "model" if ckpt else run / "model").float().eval()
    base = run if (run / "vae").exists() else run.parent
    vae = AutoencoderKL.from_pretrained(base / "vae", torch_dtype=torch.float32, low_cpu_mem_usage=False).eval()
    tok = load_tokenizer(base / "tokenizer")
    special = special_ids(tok)
    held = LatentWindows(a.data, base / "vae", tok, 3, "heldout")
    rng = np.random.default_rng(0)
    rows = rng.choice(len(held), size=min(a.windows, len(held)), replace=False)
    gen_stats = {k: {"shift": [], "flash": []} for k in COMMANDS}
    for r in rows:
        b = held.get([int(r)])
        prev = decode(vae, b["latents"][0, 1, -1:])[0].numpy()
        for key, cmd in COMMANDS.items():
            s = StreamingSampler(model, special, guidance=a.guidance,
                                 command_fn=token_command_fn(tok) if model.config.command_dim else None)
            s.reset(b["latents"][:, :2], [b["texts"][0][:2]])
            out = s.step([tok.encode(cmd)], [torch.Generator().manual_seed(int(r))])
            last = decode(vae, out.latents[0, -1:])[0].numpy()
            gen_stats[key]["shift"].append(shift(prev, last))
            gen_stats[key]["flash"].append(flash(prev, last))
    # the same measures on real held-out chunks, by recorded action
    from tv2tv_env.data.dataset import iter_episodes
    real = {k: {"shift": [], "flash": []} for k in COMMANDS}
    names = None
    for _, ep in iter_episodes(a.data, "heldout"):
        names = names or get_card("doom").action_names
        for t in range(1, min(len(ep), 120)):
            key = names[ep.action[t]]
            if key in real and len(real[key]["shift"]) < 200:
                real[key]["shift"].append(shift(ep.frames[t - 1, -1], ep.frames[t, -1]))
                real[key]["flash"].append(flash(ep.frames[t - 1, -1], ep.frames[t, -1]))

    def summary(d):
        return {k: {"mean_shift_px": round(float(np.mean(v["shift"])), 2), "mean_flash": round(float(np.mean(v["flash"])), 1),
                    "n": len(v["shift"])} for k, v in d.items() if v["shift"]}

    print(json.dumps({"run": str(run), "guidance": a.guidance, "generated": summary(gen_stats),
                      "real_heldout": summary(real)}, indent=1))


if __name__ == "__main__":
    main()
