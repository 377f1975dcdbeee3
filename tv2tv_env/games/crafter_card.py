"""Crafter's game card: its actions, the words that describe them, and what the bench, the judge,
the wrappers and the play window need to know (tv2tv_env/games/card.py says who reads what).

Light on purpose: the standard library only, so that reading it never imports crafter. The
engine adapter, the describer and the scripted player are in `crafter.py`, which imports these
tables from here (and keeps them importable as `tv2tv_env.games.crafter.PHRASES` and so on).
"""
from __future__ import annotations

from .card import GameCard

ACTION_NAMES = [
    "noop", "move_left", "move_right", "move_up", "move_down", "do", "sleep",
    "place_stone", "place_table", "place_furnace", "place_plant",
    "make_wood_pickaxe", "make_stone_pickaxe", "make_iron_pickaxe",
    "make_wood_sword", "make_stone_sword", "make_iron_sword",
]
PHRASES = {
    "noop": ["do nothing", "wait", "stand still", "stay idle"],
    "move_left": ["move left", "walk left", "go west", "head left"],
    "move_right": ["move right", "walk right", "go east", "head right"],
    "move_up": ["move up", "walk up", "go north", "head up"],
    "move_down": ["move down", "walk down", "go south", "head down"],
    "do": ["interact", "use what is in front", "hit what is ahead", "work on the block ahead"],
    "sleep": ["sleep", "lie down to sleep", "take a nap"],
    "place_stone": ["place a stone", "put down a stone"],
    "place_table": ["place a table", "build a crafting table"],
    "place_furnace": ["place a furnace", "build a furnace"],
    "place_plant": ["plant a sapling", "place a plant"],
    "make_wood_pickaxe": ["craft a wood pickaxe", "make a wooden pickaxe"],
    "make_stone_pickaxe": ["craft a stone pickaxe", "make a stone pickaxe"],
    "make_iron_pickaxe": ["craft an iron pickaxe", "make an iron pickaxe"],
    "make_wood_sword": ["craft a wood sword", "make a wooden sword"],
    "make_stone_sword": ["craft a stone sword", "make a stone sword"],
    "make_iron_sword": ["craft an iron sword", "make an iron sword"],
}
UNSEEN_PHRASES = {
    "noop": ["remain where you are"], "move_left": ["travel westward"], "move_right": ["travel eastward"],
    "move_up": ["travel northward"], "move_down": ["travel southward"], "do": ["strike the tile ahead"],
    "sleep": ["go to bed"],
}
RECOMBINED_PHRASES = {  # new phrasings from recorded words; see doom_card.py
    "noop": ["stay still"], "move_left": ["head west"], "move_right": ["head east"], "move_up": ["head north"],
    "move_down": ["head south"], "do": ["hit the block ahead"], "sleep": ["lie down to nap"],
}
EVENT_PHRASES = {
    "gain": ["you get {n} {item}", "{item} +{n}", "you collect {n} {item}"],
    "spend": ["you use {n} {item}"],
    "achievement": ["achievement: {name}", "you unlock {name}"],
    "hurt": ["you lose health", "you get hurt"],
    "heal": ["you recover health"],
    "died": ["you die", "you are dead"],
}

CARD = GameCard(
    name="crafter",
    engine="tv2tv_env.games.crafter:CrafterGame",
    action_names=tuple(ACTION_NAMES),
    button_names=tuple(ACTION_NAMES),  # one label per action
    judge_labels="action",  # Crafter does one thing per step: the judge predicts the action id
    idle_action="noop",
    phrases=PHRASES,
    event_phrases=EVENT_PHRASES,
    event_example={"n": 1, "item": "wood", "name": "collect wood"},
    unseen_phrases=UNSEEN_PHRASES,
    recombined_phrases=RECOMBINED_PHRASES,
    probe=("noop", "move_left", "move_right", "move_up", "move_down", "do"),
    switches=(("move_left", "move_right"), ("move_up", "move_down"), ("noop", "do")),
    off_topic=("dance", "what is the weather", "spin around", "sing a song", "fly away",
               "tell me a joke", "jump", "hello there"),
    # one command per action, in the words most used when recording
    default_commands=("do nothing", "move left", "move right", "move up", "move down", "interact", "sleep",
                      "place a stone", "place a table", "place a furnace", "plant a sapling", "craft a wood pickaxe",
                      "craft a stone pickaxe", "craft an iron pickaxe", "craft a wood sword", "craft a stone sword",
                      "craft an iron sword"),
    keys={
        "w": "move up", "up": "move up",
        "s": "move down", "down": "move down",
        "a": "move left", "left": "move left",
        "d": "move right", "right": "move right",
        "space": "interact",
        "tab": "sleep",
        "z": "place a stone", "x": "place a table", "c": "place a furnace", "g": "plant a sapling",
        "1": "craft a wood pickaxe", "2": "craft a stone pickaxe", "3": "craft an iron pickaxe",
        "4": "craft a wood sword", "5": "craft a stone sword", "6": "craft an iron sword",
    },
    opposites=(("move up", "move down"), ("move left", "move right")),
    max_parts=1,  # one thing per step
    unresponsive_actions=("sleep",),  # asleep, the engine plays sleep whatever is pressed until energy is full
    height=64, width=64, frames_per_chunk=4,  # at 2 the player lives 3x longer; no world built at 2 has beaten this one yet (README)
    checkpoint="crafter-small",  # made by `tv2tv build-world --game crafter` (its README.md)
)
