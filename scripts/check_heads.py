"""The reward and episode-end heads of one model against the real game, three ways, side by side:
the section of `tv2tv bench` alone (README, "Reward and episode-end heads against the real game").

    python scripts/check_heads.py [--checkpoint checkpoints/doom-small] --data data/doom \
        [--random-chunks 256] [--ways command imagined_events recorded_events] [--out runs/check_heads.json]

- "command": the recorded command with its events cut off, as a player or an agent gives it
  (what `tv2tv bench` reports);
- "imagined_events": the same, and the model writes the events it expects after it
  (`WorldModel(imagined_events=True)`, the env's `imagined_events=True`);
- "recorded_events": the recorded text with its events ("shoot; an enemy dies"), which no
  player can give: how much of the heads' knowledge sits in that text.
`--end-from head text either` scores each way's episode end as the env can take it
(`end_from`): the end head, the model's text saying the player died, or either.
One JSON object on stdout (and in --out) with the bench's numbers for each, and seconds.
"""
import argparse
import json
import time

from tv2tv_env.bench.benchmark import print_result, reward_end_agreement
from tv2tv_env.bench.contestants import WorldContestant
from tv2tv_env.games import DEFAULT_GAME
from tv2tv_env.world import DEFAULT_CHECKPOINT


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT[DEFAULT_GAME]), help="TV2TV checkpoint or run")
    p.add_argument("--data", required=True, help="recorded dataset with held-out episodes")
    p.add_argument("--random-chunks", type=int, default=256, help="as the bench's --outcome-chunks")
    p.add_argument("--ways", nargs="+", default=["command", "imagined_events", "recorded_events"],
                   choices=["command", "imagined_events", "recorded_events"], help="which of the three (default all)")
    p.add_argument("--end-from", nargs="+", default=["head"], choices=["head", "text", "either"],
                   help="what ends an episode, as the env's end_from (default head; several: each scored)")
    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance of the chunks drawn (default the checkpoint's; take_cover's env "
                        "draws with 1.0)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="also write the JSON here")
    a = p.parse_args()
    who = WorldContestant("TV2TV", a.checkpoint)
    result = {"checkpoint": a.checkpoint, "data": a.data, "guidance": a.guidance, "end_from": a.end_from}
    for way in a.ways:
        for end_from in a.end_from:
            key = way if len(a.end_from) == 1 else f"{way}, end from {end_from}"
            who.world.set_sampling(imagined_events=way == "imagined_events", end_from=end_from, guidance=a.guidance)
            t0 = time.perf_counter()
            result[key] = reward_end_agreement(who, a.data, a.random_chunks, a.seed,
                                               keep_events=way == "recorded_events")
            result[key]["seconds"] = round(time.perf_counter() - t0, 1)
            print(json.dumps({key: result[key]}), flush=True)
    print_result(result, a.out)


if __name__ == "__main__":
    main()
