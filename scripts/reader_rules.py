"""Compare rules for reading a clause as an action (tv2tv_env/paraphrase.NearestWording) on a
development list of wordings written for this check, kept apart from the benchmark's lists.

    python scripts/reader_rules.py [--bench]

NearestWording reads a clause as the action of its single nearest training paraphrase ("max").
The alternatives: the mean of the k nearest paraphrases of each action ("top2", "top3",
"top5"), each action's mean vector ("centroid"), and a softmax vote over all paraphrases
at temperature 0.05. Pick a rule on the development list only; `--bench` also prints the
benchmark's new-word lists for the record (choosing by them would tune on the test).
One JSON line per (list, rule): correct reads and the count per action.
"""
import argparse
import json

import torch
from tv2tv_env.paraphrase import NearestWording, held_out_new_words, words, training_paraphrases
from tv2tv_env.games import doom
from model.command_encoder import shared_encoder
from tv2tv_env.world import UNPLACED_SIMILARITY

DEV = {
 "forward": ["go straight ahead", "move on forward", "walk straight", "head straight on", "hurry forward",
             "keep walking forward", "go up ahead", "approach", "onward", "move to the front"],
 "backward": ["go backwards a bit", "move backwards slowly", "back out", "step backward slowly", "move back now",
              "walk back a bit", "retreat a little", "backpedal", "go back the way you came", "move back a step"],
 "turn_left": ["turn the head left", "look over the left shoulder", "rotate the camera left", "turn a bit left",
               "look leftwards", "turn counter clockwise", "turn around to the left", "swing the view left",
               "look at the left wall", "yaw left"],
 "turn_right": ["turn the head right", "look over the right shoulder", "rotate the camera right",
                "turn a bit right", "look rightwards", "turn clockwise a bit", "turn around to the right",
                "swing the view right", "look at the right wall", "yaw right"],
 "strafe_left": ["sidestep over to the left", "side-step left", "move laterally left", "strafe over to the left",
                 "slide over to the left", "shift over left", "step over to the left", "lateral move left",
                 "circle strafe left", "move over to the left"],
 "strafe_right": ["sidestep over to the right", "side-step right", "move laterally right", "strafe over to the right",
                  "slide over to the right", "shift over right", "step over to the right", "lateral move right",
                  "circle strafe right", "move over to the right"],
 "shoot": ["fire a shot", "shoot at them", "shoot the enemy", "fire at the monster", "pull the trigger now",
           "shoot them down", "fire a bullet", "kill the enemy", "shoot it", "fire now"],
 "idle": ["don't move", "stand there", "stay here", "pause", "do not do anything", "wait a moment",
          "just wait", "stand still for a bit", "take a break", "stay right there"],
}
new = held_out_new_words("doom")
bench = {p for d in (doom.UNSEEN_PHRASES, doom.EVERYDAY_PHRASES, doom.RECOMBINED_PHRASES) for ps in d.values() for p in ps}
train = {p for a in doom.ACTION_NAMES for p in training_paraphrases("doom", a)}
for a, ps in DEV.items():  # the development list shares no phrase or new word with the bench or training
    for p in ps:
        assert not set(words(p)) & new, (p, set(words(p)) & new)
        assert p not in bench and p not in train, p

enc = shared_encoder()
nw = NearestWording("doom", enc, UNPLACED_SIMILARITY)
acts = nw.actions
names = sorted(set(acts))
idx = {a: torch.tensor([i for i, x in enumerate(acts) if x == a]) for a in names}

def score(vec, rule):
    sims = nw.vectors @ vec
    if rule == "max":
        return max(names, key=lambda a: sims[idx[a]].max())
    if rule.startswith("top"):
        k = int(rule[3:])
        return max(names, key=lambda a: sims[idx[a]].topk(min(k, len(idx[a]))).values.mean())
    if rule == "centroid":
        return max(names, key=lambda a: (nw.vectors[idx[a]].mean(0) @ vec))
    if rule == "softmax":
        w = torch.softmax(sims / 0.05, 0)
        return max(names, key=lambda a: w[idx[a]].sum())

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--bench", action="store_true", help="also score the benchmark's new-word lists")
sets = {"dev": DEV}
if p.parse_args().bench:
    sets["unseen"] = doom.UNSEEN_PHRASES; sets["everyday"] = doom.EVERYDAY_PHRASES
for name, d in sets.items():
    vecs = {p: enc.encode([p])[0] for ps in d.values() for p in ps}
    for rule in ["max", "top2", "top3", "top5", "centroid", "softmax"]:
        ok = 0; n = 0; per = {}
        for a, ps in d.items():
            for p in ps:
                got = score(vecs[p], rule); ok += got == a; n += 1
                per[a] = per.get(a, 0) + (got == a)
        print(json.dumps({"list": name, "rule": rule, "correct": ok, "of": n, "per_action": per}))
