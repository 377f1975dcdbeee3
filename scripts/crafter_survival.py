"""How long Crafter's scripted player survives, in chunks and in engine steps, and what ends
its episodes: the figure behind "episodes last hundreds of chunks" (issue 23).

    python scripts/crafter_survival.py [--episodes 40] [--seed 71000] [--max-chunks 1000]
        [--frames-per-chunk 2 4] [--workers 2] [--out FILE]

Arguments:
    --episodes          episodes per setting, from seeds seed .. seed + episodes - 1 (the
                        player's random stream is seeded with the episode's seed too)
    --seed              first seed; recordings use 0.. (train) and 50,000.. (fresh bench starts)
    --max-chunks        an episode still alive after this many chunks is cut there (counted alive)
    --frames-per-chunk  one setting per value: engine steps per chunk (a move walks one cell
                        whatever the value, so the player acts once every that many steps)
    --workers           processes (Crafter builds a new world at every reset, about 0.6 s)
    --out               also write the JSON here

Prints one JSON object per setting: mean, median and range of the episode length in chunks and
in engine steps (with the standard error of the mean), how episodes ended (starved: food 0 at
death; parched: drink 0; else killed: zombies, skeletons, lava or exhaustion), cows and plants
eaten. The engine alone decides; nothing here is modelled. 80 episodes at 2, 3 and 4 frames a
chunk took about 6 minutes on 2 cores (2 workers, beside a training run).
"""
import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np


def episode(seed: int, max_chunks: int, frames_per_chunk: int) -> dict:
    from tv2tv_env.games.crafter import CrafterGame

    game = CrafterGame(frames_per_chunk=frames_per_chunk)
    game.reset(seed)
    player = game.make_player(np.random.default_rng(seed))
    died = False
    for chunks in range(1, max_chunks + 1):
        if game.step_chunk(player.act(game)).terminated:
            died = True
            break
    inv, ach = game.info["inventory"], game.env._player.achievements
    end = "alive" if not died else "starved" if inv["food"] == 0 else "parched" if inv["drink"] == 0 else "killed"
    return {"seed": seed, "chunks": chunks, "steps": int(game.env._step), "end": end,
            "cows": int(ach["eat_cow"]), "plants": int(ach["eat_plant"])}


def summary(rows: list, frames_per_chunk: int) -> dict:
    def stats(key):
        v = np.array([r[key] for r in rows], float)
        return {"mean": round(v.mean(), 1), "se": round(v.std(ddof=1) / len(v) ** 0.5, 1) if len(v) > 1 else None,
                "median": float(np.median(v)), "min": int(v.min()), "max": int(v.max())}

    ends = {k: sum(r["end"] == k for r in rows) for k in ("starved", "parched", "killed", "alive")}
    return {"frames_per_chunk": frames_per_chunk, "episodes": len(rows), "chunks": stats("chunks"),
            "engine_steps": stats("steps"), "ends": ends, "cows_eaten": sum(r["cows"] for r in rows),
            "plants_eaten": sum(r["plants"] for r in rows), "episodes_detail": rows}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--episodes", type=int, default=40)
    p.add_argument("--seed", type=int, default=71000)
    p.add_argument("--max-chunks", type=int, default=1000)
    p.add_argument("--frames-per-chunk", type=int, nargs="+", default=[2, 4])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    if a.episodes < 1 or a.max_chunks < 1 or min(a.frames_per_chunk) < 1:
        p.error("--episodes, --max-chunks and --frames-per-chunk must be at least 1")
    seeds = range(a.seed, a.seed + a.episodes)
    out = {"command": "python scripts/crafter_survival.py " + " ".join(
        f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in vars(a).items() if k != "out"), "settings": []}
    # A worker that dies (killed, out of memory) breaks the pool at once: say so and stop, rather
    # than wait (a multiprocessing.Pool would wait forever for its task).
    with ProcessPoolExecutor(a.workers) as pool:
        for i, fpc in enumerate(a.frames_per_chunk):
            try:
                rows = list(pool.map(episode, seeds, [a.max_chunks] * len(seeds), [fpc] * len(seeds)))
            except BrokenProcessPool:
                sys.exit(f"crafter_survival: a worker process died (killed, or out of memory) during the "
                         f"{fpc} frames/chunk setting; the settings printed above are complete. For the rest, "
                         f"run again with --frames-per-chunk {' '.join(map(str, a.frames_per_chunk[i:]))}")
            s = summary(rows, fpc)
            out["settings"].append(s)
            brief = {k: v for k, v in s.items() if k != "episodes_detail"}
            print(json.dumps(brief), flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
