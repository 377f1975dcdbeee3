"""ViZDoom's take_cover as its own game card: stay alive while imps throw fireballs at you.

The classic test of a world model in RL (World Models, Ha & Schmidhuber 2018: a controller
trained only in the model's dream survived 5.2 times as long as a random policy in the real
game). Only three actions: strafe left, strafe right, stand still. The scenario's own skill (4)
and its room; Doom's words for the actions (doom_card.py), so a policy's commands read the same
in the default Doom world.

What recorded text says: the command, then what happened ("; you are hit"), then the health
left ("; health 64"), every chunk. With the HUD off nothing on screen shows the health, and the
model sees only its last few chunks: the health in the text is how it knows that the next hit
kills, and the death it writes ("; you are killed") is how its episodes end where the game's do.
Light on purpose: the standard library only.
"""
from __future__ import annotations

from .card import GameCard
from .doom_card import EVERYDAY_PHRASES, PHRASES, RECOMBINED_PHRASES, TRAINING_PHRASES, UNSEEN_PHRASES

ACTION_NAMES = ["idle", "strafe_left", "strafe_right"]
BUTTON_NAMES = ["strafe_left", "strafe_right"]
_PARTS = ("idle", "strafe_left", "strafe_right")


def _only(table):
    return {part: table[part] for part in _PARTS if part in table}


def _words(phrases) -> set[str]:
    return {w for p in phrases for w in p.split()}


# The bench's word lists, Doom's for these actions; their words that recording never uses here are
# the bench's new words ("move" is recorded in Doom's "move forward" but not in take_cover)
_BENCH = [_only(t) for t in (UNSEEN_PHRASES, RECOMBINED_PHRASES, EVERYDAY_PHRASES)]
_NEW = _words(p for t in _BENCH for ps in t.values() for p in ps) - _words(
    p for part in (*_PARTS, "coast") for p in PHRASES[part])
# so a training-only paraphrase that holds one of them is left out (tests/test_language.py)
_TRAINING = {part: [p for p in ps if not _words([p]) & _NEW] for part, ps in _only(TRAINING_PHRASES).items()}

EVENT_PHRASES = {
    "damage": ["you are hit", "a fireball hits you", "you get hurt"],
    "died": ["you are killed", "you die"],
    "health": ["health {n}"],
}

CARD = GameCard(
    name="doom_take_cover",
    engine="tv2tv_env.games.doom_take_cover:DoomTakeCoverGame",
    action_names=tuple(ACTION_NAMES),
    button_names=tuple(BUTTON_NAMES),
    judge_labels="buttons",
    idle_action="idle",
    phrases={**_only(PHRASES), "coast": PHRASES["coast"]},
    event_phrases=EVENT_PHRASES,
    event_example={"n": 100},
    training_phrases=_TRAINING,
    unseen_phrases=_BENCH[0],
    recombined_phrases=_BENCH[1],
    everyday_phrases=_BENCH[2],
    probe=("idle", "strafe_left", "strafe_right"),
    switches=(("strafe_left", "strafe_right"), ("strafe_right", "strafe_left"), ("idle", "strafe_left")),
    off_topic=("dance", "what is the weather", "sing a song", "tell me a joke", "make me a sandwich", "hello there"),
    default_commands=("stand still", "strafe left", "strafe right"),
    keys={"a": "strafe left", "left": "strafe left", "q": "strafe left",
          "d": "strafe right", "right": "strafe right", "e": "strafe right"},
    opposites=(("strafe left", "strafe right"),),
    max_parts=1,
    height=64, width=64, frames_per_chunk=4,
    checkpoint="doom-takecover-small",
    mirror_symmetric=False,  # the health in the text does not mirror, but frames would: keep it off to be safe
    # TV2TV/DoomTakeCover-v0 lets the model write what happens after each command, and ends an
    # episode when the model's end head fires or its text says the player dies. It draws frames
    # without classifier-free guidance: at the checkpoint's scale 3 the dream draws more and
    # larger fireballs and kills a random policy in 11 chunks against the game's 40; at 1.0 it
    # lives 38.9 (docs/take_cover.md, the hardness table)
    world_defaults={"imagined_events": True, "end_from": "either", "guidance": 1.0},
)
