"""Recording speed: kept frames per second with 1..K workers, side by side in one run.

    python scripts/bench_record.py [--game doom] [--episodes 8] [--max-chunks 150] [--workers 1 2]

Prints one JSON object: frames/s per worker count, the machine, and how many hours one
million frames take at the best setting. Data goes to a temporary directory (deleted).
"""
import argparse
import json
import os
import platform
import tempfile

from tv2tv_env.data.record import cpu_count, record
from tv2tv_env.games import DEFAULT_GAME


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--game", default=DEFAULT_GAME)
    p.add_argument("--episodes", type=int, default=8)
    p.add_argument("--max-chunks", type=int, default=150)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--compression", default="gzip")
    a = p.parse_args()
    runs = []
    for w in a.workers:
        with tempfile.TemporaryDirectory() as d:
            s = record(a.game, a.episodes, a.max_chunks, os.path.join(d, "data"), seed=1000, workers=w,
                       compression=a.compression, progress=False)
            size = sum(f.stat().st_size for f in os.scandir(os.path.join(d, "data", "episodes")))
        runs.append({"workers": w, "frames": s["frames"], "seconds": s["seconds"],
                     "frames_per_second": s["frames_per_second"], "bytes_per_frame": round(size / s["frames"])})
    best = max(r["frames_per_second"] for r in runs)
    print(json.dumps({"benchmark": "record", "game": a.game, "episodes": a.episodes, "max_chunks": a.max_chunks,
                      "compression": a.compression, "cpus": cpu_count(), "cpu": platform.processor() or platform.machine(),
                      "runs": runs, "hours_per_million_frames": round(1e6 / best / 3600, 3)}, indent=1))


if __name__ == "__main__":
    main()
