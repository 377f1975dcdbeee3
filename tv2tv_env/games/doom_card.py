"""Doom's game card: its actions, the words that describe them, and what the bench, the judge,
the wrappers and the play window need to know (tv2tv_env/games/card.py says who reads what).

Light on purpose: the standard library only, so that reading it never starts ViZDoom. The
engine adapter, the describer and the scripted player are in `doom.py`, which imports these
tables from here (and keeps them importable as `tv2tv_env.games.doom.PHRASES` and so on).
"""
from __future__ import annotations

from .card import GameCard

BUTTON_NAMES = ["forward", "backward", "turn_left", "turn_right", "strafe_left", "strafe_right", "shoot"]

# Every action a chunk can hold: a button or a combination of buttons ("+"-joined).
ACTION_NAMES = [
    "idle", "forward", "backward", "turn_left", "turn_right", "strafe_left", "strafe_right", "shoot",
    "forward+turn_left", "forward+turn_right", "forward+shoot", "backward+shoot",
    "turn_left+shoot", "turn_right+shoot", "strafe_left+shoot", "strafe_right+shoot",
]

# Paraphrases used when recording. The benchmark's unseen wordings live in UNSEEN_PHRASES
# and never appear in recorded text.
PHRASES = {
    "forward": ["move forward", "walk forward", "go forward", "step ahead", "advance", "head forward"],
    "backward": ["move backward", "walk backward", "step back", "back up", "retreat"],
    "turn_left": ["turn left", "look left", "rotate left", "turn to the left", "swing left"],
    "turn_right": ["turn right", "look right", "rotate right", "turn to the right", "swing right"],
    "strafe_left": ["strafe left", "sidestep left", "slide left", "step to the left"],
    "strafe_right": ["strafe right", "sidestep right", "slide right", "step to the right"],
    "shoot": ["shoot", "fire", "open fire", "pull the trigger", "fire the pistol"],
    "idle": ["stand still", "wait", "do nothing", "stay put", "hold position"],
    "coast": ["coast to a stop", "slide to a halt", "drift to a stop"],
}
UNSEEN_PHRASES = {
    "forward": ["run ahead", "proceed forwards"],
    "backward": ["walk in reverse", "move to the rear"],
    "turn_left": ["spin left", "pivot left"],
    "turn_right": ["spin right", "pivot right"],
    "strafe_left": ["shuffle left", "sidle left"],
    "strafe_right": ["shuffle right", "sidle right"],
    "shoot": ["blast away", "let off a shot"],
    "idle": ["remain still", "freeze"],
}
# New phrasings made only of words that recording uses ("look to the left" from "look left" and
# "turn to the left"): the benchmark's test of rewording, as opposed to UNSEEN_PHRASES' new words.
RECOMBINED_PHRASES = {
    "forward": ["walk ahead", "go ahead"],
    "backward": ["go back", "step backward"],
    "turn_left": ["look to the left", "rotate to the left"],
    "turn_right": ["look to the right", "rotate to the right"],
    "strafe_left": ["sidestep to the left", "slide to the left"],
    "strafe_right": ["sidestep to the right", "slide to the right"],
    "shoot": ["fire the trigger", "shoot the pistol"],
    "idle": ["stay still", "hold still"],
}
# Everyday wordings a new player types, with words recording never used ("face left", "dodge
# right"): the benchmark's second new-word list. Like UNSEEN_PHRASES, it stays out of every
# training input (tests/test_language.py).
EVERYDAY_PHRASES = {
    "forward": ["charge forward", "dash ahead"],
    "backward": ["back off", "take a step back"],
    "turn_left": ["face left", "look to your left"],
    "turn_right": ["face right", "look to your right"],
    "strafe_left": ["dodge left", "move sideways to the left"],
    "strafe_right": ["dodge right", "move sideways to the right"],
    "shoot": ["fire your gun", "attack"],
    "idle": ["stop moving", "stay where you are"],
}
# Paraphrases used only to train the language prior (tv2tv_env/paraphrase.py): the sentence
# vector of one of these stands in for a chunk's recorded text (whose tokens are then hidden),
# so the model learns to act on meaning, not on the recorder's few words. None of the
# benchmark's phrases or new words is here (tested).
TRAINING_PHRASES = {
    "forward": ["go straight", "move ahead", "walk on", "press forward", "push forward", "march forward",
                "move up", "keep going", "go onward", "travel forward"],
    "backward": ["move back", "pull back", "walk back", "step backwards", "fall back", "withdraw",
                 "go backwards", "move backwards", "head back", "retreat backward"],
    "turn_left": ["look leftward", "turn toward the left", "rotate the view left", "swivel left", "veer left",
                  "aim left", "steer left", "glance left", "turn counterclockwise", "look over to the left"],
    "turn_right": ["look rightward", "turn toward the right", "rotate the view right", "swivel right",
                   "veer right", "aim right", "steer right", "glance right", "turn clockwise",
                   "look over to the right"],
    "strafe_left": ["step left", "move left", "walk left", "glide left", "shift left", "drift left",
                    "slip left", "side step left", "edge left", "strafe to the left"],
    "strafe_right": ["step right", "move right", "walk right", "glide right", "shift right", "drift right",
                     "slip right", "side step right", "edge right", "strafe to the right"],
    "shoot": ["fire repeatedly", "fire once", "fire the weapon", "shoot once", "open up", "squeeze the trigger",
              "discharge the pistol", "fire at will", "start shooting", "keep firing", "shoot now"],
    "idle": ["stand by", "hold on", "stay idle", "do not move", "wait here", "keep still", "rest",
             "stand idle", "hold", "be still"],
}
EVENT_PHRASES = {
    "kill": ["an enemy dies", "you kill an enemy", "a monster goes down"],
    "kills": ["{n} enemies die", "you kill {n} enemies"],
    "hit": ["the shot hits", "you hit an enemy"],
    "damage": ["you take damage", "you get hurt", "you are hit"],
    "item": ["you pick something up", "you grab an item"],
    "blocked": ["but a wall is in the way", "but something blocks the way"],
    "died": ["you die", "you are killed"],
}

CARD = GameCard(
    name="doom",
    engine="tv2tv_env.games.doom:DoomGame",
    action_names=tuple(ACTION_NAMES),
    button_names=tuple(BUTTON_NAMES),
    judge_labels="buttons",  # a combined action is its buttons: the judge reads each one
    idle_action="idle",
    phrases=PHRASES,
    event_phrases=EVENT_PHRASES,
    event_example={"n": 2},
    training_phrases=TRAINING_PHRASES,
    unseen_phrases=UNSEEN_PHRASES,
    recombined_phrases=RECOMBINED_PHRASES,
    everyday_phrases=EVERYDAY_PHRASES,
    probe=("idle", "forward", "backward", "turn_left", "turn_right", "strafe_left", "strafe_right", "shoot"),
    switches=(("turn_left", "turn_right"), ("turn_right", "turn_left"), ("forward", "backward"),
              ("strafe_left", "strafe_right"), ("idle", "shoot"), ("shoot", "turn_left")),
    # "spin around" and "turn around and run" made the shipped model's end head fire at almost
    # every step (2026-12): keep them here.
    off_topic=("dance", "what is the weather", "spin around", "sing a song", "open the door",
               "turn around and run", "tell me a joke", "jump", "make me a sandwich", "hello there"),
    # one command per action of the recorded game, in the words most used when recording
    default_commands=("stand still", "move forward", "move backward", "turn left", "turn right", "strafe left",
                      "strafe right", "shoot", "move forward and turn left", "move forward and turn right",
                      "turn left and shoot", "turn right and shoot"),
    keys={
        "w": "move forward", "up": "move forward",
        "s": "move backward", "down": "move backward",
        "a": "turn left", "left": "turn left",
        "d": "turn right", "right": "turn right",
        "q": "strafe left",
        "e": "strafe right",
        "space": "shoot",
    },
    opposites=(("move forward", "move backward"), ("turn left", "turn right"), ("strafe left", "strafe right")),
    max_parts=2,  # the most any recorded chunk holds
    engine_options=("scenarios", "player"),
    height=64, width=64, frames_per_chunk=4,
    checkpoint="doom-small",
    mirror_symmetric=True,  # HUD off: nothing on screen reads differently mirrored (games/mirror.py)
)
