"""A game card: everything the rest of the project needs to know about one game, in one place.

The recorder, the describer's corpus, the language prior, the benchmark, the judge, the
wrappers, the keyboard agent, the play window and the command line all read a game's card
instead of keeping their own table per game. A card is plain data, so reading it imports
nothing heavy: the engine (vizdoom, crafter) is named by a "module:Class" string and imported
only when `engine_class()` is called, i.e. when something really plays the game.

Each game's card lives in its own small module (`doom_card.py`, `crafter_card.py`) and is
registered in `tv2tv_env/games/__init__.py`. `check_card` says what is wrong with a card, so
that a new one can be tested before anything trains on it (tests/test_cards.py runs it on
every registered card).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field, fields
from typing import Mapping

JUDGE_LABELS = ("buttons", "action")
CARD_FILE = "card.json"  # a trained world of a recorded Gymnasium env carries its card here


@dataclass(frozen=True)
class GameCard:
    """One game, as data. The phrase tables are the card module's own dicts: treat them as read-only."""

    name: str
    """The game's name: `--game NAME`, the `game` of recorded datasets and model configs, and
    the env ids `TV2TV/<Name>-v0` and `TV2TV/Real<Name>-v0` (`env_id` in games/__init__.py)."""

    engine: str
    """"module:Class" of the engine adapter (a `GameSource`), imported only by `engine_class()`;
    `make_game` builds it, and the tokenizer corpus asks it for `describer_samples`."""

    action_names: tuple[str, ...]
    """Every action a chunk can hold, by id; a combined action joins its parts with "+"
    ("forward+shoot"). Read by the bench, the real env's command parser and the language prior."""

    button_names: tuple[str, ...]
    """The multi-label view of an action (Doom's buttons); the action names again when the
    judge predicts the action id. Recorded in every episode's `buttons`."""

    judge_labels: str
    """What the inverse-dynamics judge predicts (bench/judge.py): "buttons" (multi-label, one
    output per button: combined actions are read part by part) or "action" (the action id)."""

    idle_action: str
    """The action that presses nothing ("idle", "noop"): dropped beside other parts when a
    command is read or a combined action is paraphrased (paraphrase.py)."""

    phrases: Mapping[str, list[str]]
    """Recorded wordings per action part ("turn_left": ["turn left", ...]); the describer draws
    from them, and they are the only command words the text tower's tokens were trained on.
    A key that is no action (Doom's "coast") is a wording the describer uses for an event."""

    event_phrases: Mapping[str, list[str]]
    """Recorded wordings of game events ("you kill an enemy"), with {n}/{item}/{name} slots;
    the describer appends them after the action. Their words count as recorded words."""

    event_example: Mapping[str, object]
    """Values for the event phrases' slots when the tokenizer corpus lists each phrase once
    (text_corpus.py)."""

    probe: tuple[str, ...]
    """The actions the bench commands one at a time for its action accuracy (bench/benchmark.py)."""

    switches: tuple[tuple[str, str], ...]
    """(before, after) action pairs of the bench's text-intervention test."""

    off_topic: tuple[str, ...]
    """Text no action answers ("dance"): the bench checks it never ends an episode."""

    default_commands: tuple[str, ...]
    """The menu of `DiscreteTextActions` when it is given none (wrappers.py), in recorded words."""

    keys: Mapping[str, str]
    """pygame key name -> command part, in recorded words (agents/keyboard.py, the play window).
    Order matters: held keys' parts are joined in it, and the window lists keys in it."""

    opposites: tuple[tuple[str, str], ...] = ()
    """Pairs of key commands that cancel when both are held (A + D turns neither way)."""

    max_parts: int = 1
    """How many held keys' parts one command joins at most (the most a recorded chunk holds)."""

    unresponsive_actions: tuple[str, ...] = ()
    """Actions after which the engine ignores commands for a while (Crafter's sleep: the player
    sleeps on until rested or hurt, whatever is pressed). The bench takes no start right after
    one, since no model could follow a command there (`tv2tv bench --skip-starts-after` overrides)."""

    training_phrases: Mapping[str, list[str]] = field(default_factory=dict)
    """Wordings per action part used only to train the language prior (paraphrase.py): never
    recorded, never in the tokenizer corpus, never one of the bench's."""

    unseen_phrases: Mapping[str, list[str]] = field(default_factory=dict)
    """The bench's wordings with words recording never used ("spin left"), per action part.
    Like the next two lists, kept out of every training input (tests/test_language.py)."""

    recombined_phrases: Mapping[str, list[str]] = field(default_factory=dict)
    """The bench's new phrasings made only of recorded words ("look to the left")."""

    everyday_phrases: Mapping[str, list[str]] = field(default_factory=dict)
    """The bench's everyday wordings a new player types ("face left"), a second new-word list."""

    engine_options: tuple[str, ...] = ()
    """Engine keyword arguments `tv2tv record` may pass (Doom: "scenarios", "player"); the
    command line refuses its game-specific options for a game whose engine has none."""

    height: int = 64
    """Frame height in pixels that recording uses unless told otherwise (make_game, record)."""

    width: int = 64
    """Frame width in pixels, likewise."""

    frames_per_chunk: int = 4
    """Frames an action is held for, likewise."""

    render_fps: int = 16
    """Frames per second that play is shown at: the envs' `metadata["render_fps"]`, the play
    window and the videos of agents and the bench. 16 shows a 4-frame chunk in a quarter second
    (Doom records every second tic of 35 a second, so 17.5 would be its real speed)."""

    mirror_symmetric: bool = False
    """Whether a frame flipped left-right, with "left" and "right" swapped in its labels and text,
    is as valid a frame of the game (games/mirror.py): Doom with its HUD off, yes; a game that
    draws digits or text on screen, no. `tv2tv train --mirror` and `tv2tv encode --mirror` ask it."""

    checkpoint: str = ""
    """Directory under `checkpoints/` of the shipped model (world.py's default checkpoint);
    "" when none ships. Whether the directory exists is checked when a model is loaded."""

    env_id: str = ""
    """For a game recorded from a Gymnasium env (games/gym_source.py): its registered id, made
    with `render_mode="rgb_array"`; "" for a game with its own adapter."""

    env_kwargs: Mapping[str, object] = field(default_factory=dict)
    """Keyword arguments of that `gymnasium.make` (JSON values)."""

    world_defaults: Mapping[str, object] = field(default_factory=dict)
    """Options the registered world env `TV2TV/<Name>-v0` is made with unless told otherwise
    (`WorldOptions` and the env's own, e.g. `imagined_events`, `end_from`): how this game's
    shipped model is meant to be played. tv2tv_env/__init__.py passes them."""

    def to_dict(self) -> dict:
        """The card as JSON values: what a dataset's `dataset.json` carries for a game that is
        not registered here (an env recorded with `tv2tv record --env`)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "GameCard":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown game card field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        kw = dict(d)
        for name in ("action_names", "button_names", "probe", "default_commands", "off_topic", "engine_options",
                     "unresponsive_actions"):
            if name in kw:
                kw[name] = tuple(kw[name])
        for name in ("switches", "opposites"):
            if name in kw:
                kw[name] = tuple(tuple(pair) for pair in kw[name])
        return cls(**kw)

    def engine_class(self):
        """The engine adapter's class, imported now (this is what imports vizdoom or crafter,
        though the adapters themselves import their engine only when built)."""
        module, _, cls = self.engine.partition(":")
        return getattr(importlib.import_module(module), cls)

    def parts(self) -> list[str]:
        """Every action part ("forward", "shoot"), in the order of first use in `action_names`."""
        return list(dict.fromkeys(p for a in self.action_names for p in a.split("+")))


def _jsonable(value):
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def check_card(card: GameCard) -> list[str]:
    """What is wrong with a card, one sentence each; [] when nothing is."""
    problems = []
    actions, parts = set(card.action_names), card.parts()
    if len(actions) != len(card.action_names) or not actions:
        problems.append("action_names must be non-empty and unique")
    if card.idle_action not in actions:
        problems.append(f"idle_action {card.idle_action!r} is not an action")
    problems += [f"action part {p!r} has no recorded phrases" for p in parts if not card.phrases.get(p)]

    if card.judge_labels not in JUDGE_LABELS:
        problems.append(f"judge_labels must be one of {JUDGE_LABELS}, not {card.judge_labels!r}")
    elif card.judge_labels == "buttons":
        problems += [f"action part {p!r} is not a button" for p in parts
                     if p != card.idle_action and p not in card.button_names]
    elif tuple(card.button_names) != tuple(card.action_names):
        problems.append('a judge of "action" labels needs button_names == action_names')

    problems += [f"probe action {a!r} is not an action" for a in card.probe if a not in actions]
    problems += [f"unresponsive action {a!r} is not an action" for a in card.unresponsive_actions if a not in actions]
    problems += [f"switch {a}->{b} names an unknown action" for a, b in card.switches
                 if a not in actions or b not in actions]
    for table in ("training_phrases", "unseen_phrases", "recombined_phrases", "everyday_phrases"):
        problems += [f"{table} key {k!r} is not an action part" for k in getattr(card, table) if k not in parts]

    # commands a user is offered must read as one of the game's actions, in recorded words
    part_of = {p: part for part, ps in card.phrases.items() for p in ps}
    combos = {frozenset(a.split("+")) for a in card.action_names}
    for command in card.default_commands:
        clauses = command.split(" and ")
        if not all(c in part_of for c in clauses):
            problems.append(f"default command {command!r} is not made of recorded phrases")
        elif frozenset(part_of[c] for c in clauses) not in combos:
            problems.append(f"default command {command!r} names no single action")
    problems += [f"key {k!r} sends {c!r}, which is no recorded phrase" for k, c in card.keys.items()
                 if c not in part_of]
    problems += [f"opposite {c!r} is no key's command" for pair in card.opposites for c in pair
                 if c not in card.keys.values()]
    if card.max_parts < 1:
        problems.append("max_parts must be at least 1")

    # the bench's wordings are tests of the model: none may be a recorded or a training input
    trained = set(part_of) | {p for ps in card.training_phrases.values() for p in ps}
    for table in ("unseen_phrases", "recombined_phrases", "everyday_phrases"):
        problems += [f"{table} phrase {p!r} is also recorded or trained on"
                     for ps in getattr(card, table).values() for p in ps if p in trained]
    problems += [f"off-topic text {t!r} is a recorded phrase" for t in card.off_topic if t in part_of]

    if not (card.height > 0 and card.width > 0 and card.frames_per_chunk > 0 and card.render_fps > 0):
        problems.append("height, width, frames_per_chunk and render_fps must be positive")
    if ":" not in card.engine:
        problems.append(f"engine {card.engine!r} must be 'module:Class'")
    return problems
