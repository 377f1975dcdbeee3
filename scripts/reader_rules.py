"""Compare rules for reading a clause as an action (tv2tv_env/paraphrase.NearestWording) on
development lists of wordings written for this check, kept apart from the benchmark's lists.

    python scripts/reader_rules.py [--bench]

NearestWording reads a clause by a linear classifier of sentence vectors fitted to the training
paraphrases ("linear"; before 2026-12-07 as the action of its single nearest paraphrase, "max").
The alternatives: the mean of the k nearest paraphrases of each action ("top2", "top3",
"top5"), each action's mean vector ("centroid"), and a softmax vote over all paraphrases
at temperature 0.05. Pick a rule on the development lists only; `--bench` also prints the
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
# Everyday-style wordings with new words, written for this check (2026-12-07): slang, fillers and
# verbs the sentence encoder may confuse, as players type them
DEV2 = {
 "forward": ["rush forward", "hurry ahead", "sprint forward", "jog ahead", "stride forward", "push on ahead"],
 "backward": ["scurry back", "draw back", "backtrack", "recoil", "move backwards quickly", "back out slowly"],
 "turn_left": ["whirl left", "twist left", "wheel left", "peer left", "check left", "look toward the left side"],
 "turn_right": ["whirl right", "twist right", "wheel right", "peer right", "check right", "look toward the right side"],
 "strafe_left": ["evade left", "hop left", "duck left", "scoot left", "crab left", "move laterally to the left"],
 "strafe_right": ["evade right", "hop right", "duck right", "scoot right", "crab right", "move laterally to the right"],
 "shoot": ["fire a round", "take a shot", "unload on them", "open fire on it", "take the shot", "shoot at it"],
 "idle": ["cease all movement", "hang on", "sit tight", "don't budge", "linger here", "stay calm"],
}
# A harder list, written for the WordNet trials (docs/levers.md, "Everyday words"), 2026-12-07
DEV3 = {
 "forward": ["rush ahead", "sprint forward", "advance quickly", "keep on going", "push on ahead", "hurry ahead",
             "walk toward the front", "go straight on", "jog forward", "move onward"],
 "backward": ["backtrack", "step backwards slowly", "retreat quickly", "walk backwards", "move behind you",
              "jog backward", "scoot back", "back out of here", "go back a few steps", "recede"],
 "turn_left": ["turn the head left", "rotate counterclockwise", "look leftwards", "whirl left", "twist left",
               "bank left", "check the left side", "wheel left", "aim to the left", "turn around left"],
 "turn_right": ["turn the head right", "rotate clockwise", "look rightwards", "whirl right", "twist right",
                "bank right", "check the right side", "wheel right", "aim to the right", "turn around right"],
 "strafe_left": ["evade left", "duck left", "move laterally to the left", "sidestep over left", "crab walk left",
                 "step aside to the left", "slide over left", "side-shift left", "jink left", "scoot left"],
 "strafe_right": ["evade right", "duck right", "move laterally to the right", "sidestep over right",
                  "crab walk right", "step aside to the right", "slide over right", "side-shift right",
                  "jink right", "scoot right"],
 "shoot": ["open fire on them", "shoot at the enemy", "fire the weapon now", "take a shot", "pull the trigger twice",
           "fire a round", "shoot him", "kill it", "hit them with bullets", "fire at the demon"],
 "idle": ["stop", "stay", "halt", "pause for a moment", "do not budge", "stay in place", "wait there",
          "don't do a thing", "hold up", "stand firm"],
}
new = held_out_new_words("doom")
bench = {p for d in (doom.UNSEEN_PHRASES, doom.EVERYDAY_PHRASES, doom.RECOMBINED_PHRASES) for ps in d.values() for p in ps}
train = {p for a in doom.ACTION_NAMES for p in training_paraphrases("doom", a)}
# the development lists share no phrase or new word with the bench or training
for a, ps in [*DEV.items(), *DEV2.items(), *DEV3.items()]:
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
    if rule == "linear":  # what NearestWording does: a linear classifier fitted to the paraphrases
        return nw.parts[int((vec @ nw.part_weights + nw.part_bias).argmax())]
    if rule == "softmax":
        w = torch.softmax(sims / 0.05, 0)
        return max(names, key=lambda a: w[idx[a]].sum())

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--bench", action="store_true", help="also score the benchmark's new-word lists")
sets = {"dev": DEV, "dev2": DEV2, "dev3": DEV3}
if p.parse_args().bench:
    sets["unseen"] = doom.UNSEEN_PHRASES; sets["everyday"] = doom.EVERYDAY_PHRASES
for name, d in sets.items():
    vecs = {p: enc.encode([p])[0] for ps in d.values() for p in ps}
    for rule in ["max", "top2", "top3", "top5", "centroid", "softmax", "linear"]:
        ok = 0; n = 0; per = {}
        for a, ps in d.items():
            for p in ps:
                got = score(vecs[p], rule); ok += got == a; n += 1
                per[a] = per.get(a, 0) + (got == a)
        print(json.dumps({"list": name, "rule": rule, "correct": ok, "of": n, "per_action": per}))
