"""Sweep the sampler's classifier-free guidance (and Euler steps) of one model on the benchmark's
own control measures, to pick the shipped sampling settings.

    python scripts/sweep_guidance.py [--checkpoint checkpoints/doom-small] --data data/doom \
        [--guidance 1 3 5 7] [--steps 6] [--cache rolling] [--episodes 8] [--imagined-events] \
        [--out runs/sweep_guidance.json]

For every (cache, steps, guidance) setting: action accuracy with the recorded wordings and text-intervention
accuracy, both exactly as `tv2tv bench` computes them (same held-out starts, seed and judge), plus
generated frames per second. One JSON object on stdout (and in --out). It reads held-out episodes
to choose a setting; report the final numbers from a `tv2tv bench` run of the chosen setting.
"""
import argparse
import json
import time
from pathlib import Path

from tv2tv_env.bench.benchmark import (action_accuracy, game_vocabulary, intervention_accuracy, load_starts,
                                       print_result, starts_to_skip)
from tv2tv_env.bench.contestants import WorldContestant
from tv2tv_env.bench.judge import load_judge
from tv2tv_env.data.dataset import read_meta
from tv2tv_env.games import DEFAULT_GAME, get_card
from tv2tv_env.world import CACHE_MODES, DEFAULT_CACHE, DEFAULT_CHECKPOINT


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT[DEFAULT_GAME]), help="TV2TV checkpoint or run")
    p.add_argument("--data", required=True, help="recorded dataset with held-out episodes")
    p.add_argument("--judge", default=None, help="judge directory (default: the checkpoint's judge/)")
    p.add_argument("--guidance", type=float, nargs="+", default=[1.0, 3.0, 5.0, 7.0],
                   help="guidance scales (1 = unguided; the shipped config says 3)")
    p.add_argument("--steps", type=int, nargs="+", default=[6], help="Euler steps a chunk")
    p.add_argument("--cache", nargs="+", default=[DEFAULT_CACHE], choices=list(CACHE_MODES),
                   help="how the sampler drops the oldest context chunk: rebuild (exact) or cut it out (rolling)")
    p.add_argument("--distilled", default=None, metavar="DIR",
                   help="draw with this student of `tv2tv distill` (its steps, no guidance: --guidance and "
                        "--steps are then not used)")
    p.add_argument("--episodes", type=int, default=8, help="held-out episodes, 2 starts each (bench default 8)")
    p.add_argument("--chunks", type=int, default=3, help="chunks a probed command (bench default 3)")
    p.add_argument("--horizon", type=int, default=16, help="as the bench's, so that the starts are its starts")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--imagined-events", action="store_true",
                   help="the model writes the events it expects after each command (the env's imagined_events)")
    p.add_argument("--out", default=None, help="also write the JSON here")
    a = p.parse_args()

    game = read_meta(a.data)["game"]
    action_names, phrases, *_ = game_vocabulary(game)
    judge = load_judge(a.judge or Path(a.checkpoint) / "judge")
    who = WorldContestant("TV2TV", a.checkpoint, distilled=a.distilled)
    if a.distilled:
        a.steps, a.guidance = [who.world.sampler.student_steps], [1.0]
    if a.imagined_events:
        who.world.set_sampling(imagined_events=True)
    card = get_card(game)
    _, skip = starts_to_skip(card)  # the bench's default starts
    ctx = load_starts(a.data, a.episodes, who.world.context_chunks, a.horizon, seed=a.seed, skip_after=skip)
    seen = {x: phrases[x] for x in card.probe}
    rows = []
    settings = [(cache, steps, g) for cache in a.cache for steps in a.steps for g in a.guidance]
    for cache, steps, g in settings:
        who.world.set_sampling(guidance=g, steps=steps, cache=cache)
        who.seconds, who.frames = 0.0, 0
        t0 = time.perf_counter()
        act = action_accuracy(judge, who, ctx, seen, action_names, a.chunks, a.seed)
        inter = intervention_accuracy(judge, who, ctx, list(card.switches), phrases, action_names, a.seed)
        rows.append({"cache": cache, "guidance": g, "steps": steps, "action": round(act["accuracy"], 4),
                     "per_action": {k: round(v, 3) for k, v in act["per_action"].items()},
                     "intervention": round(inter["accuracy"], 4),
                     "per_switch": {k: round(v, 3) for k, v in inter["per_switch"].items()},
                     "frames_per_s": round(who.frames / who.seconds, 1), "seconds": round(time.perf_counter() - t0, 1)})
        print(json.dumps(rows[-1]), flush=True)
    result = {"checkpoint": a.checkpoint, "distilled": a.distilled, "data": a.data, "starts": len(ctx), "seed": a.seed, "rows": rows}
    print_result(result, a.out)


if __name__ == "__main__":
    main()
