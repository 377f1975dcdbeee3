"""The take_cover engine adapter: ViZDoom's take_cover scenario, three actions, survival reward.

The scenario as its authors define it (its cfg's skill 4, its room, imps throwing fireballs
from the far wall); the engine settings, frames and events are the Doom adapter's (doom.py).
What differs:
- actions: stand still, strafe left, strafe right (the game card, doom_take_cover_card.py);
- reward: 1 for every chunk the player lives through, 0 for the chunk it dies in, so a
  return is the chunks survived (World Models' score, in chunks of 8 tics);
- text: the command, what happened, and the health left ("strafe left; you are hit; health 64");
- the scripted player (`TakeCoverPlayer`) dodges well in some episodes and badly in others.
"""
from __future__ import annotations

import numpy as np

from .base import Player, pick
from .doom import VARIABLE_NAMES, DoomGame, describe_doom
from .doom_card import PHRASES
from .doom_take_cover_card import ACTION_NAMES, BUTTON_NAMES, CARD, EVENT_PHRASES

SCENARIO = "take_cover"
_HEALTH = VARIABLE_NAMES.index("health")


class DoomTakeCoverGame(DoomGame):
    name = CARD.name
    action_names = ACTION_NAMES
    button_names = BUTTON_NAMES

    def __init__(self, height=CARD.height, width=CARD.width, frames_per_chunk=CARD.frames_per_chunk,
                 skill: int | None = None, frame_skip=2):
        """skill: None plays take_cover's own (4); frame skip 2 as every Doom recording."""
        super().__init__(height, width, frames_per_chunk, scenarios=[SCENARIO], frame_skip=frame_skip,
                         ammo_every=0, skill=skill)

    def step_chunk(self, action):
        chunk = super().step_chunk(action)
        chunk.reward = 0.0 if chunk.events["died"] else 1.0
        chunk.events["health"] = 0 if chunk.events["died"] else int(round(float(chunk.variables[_HEALTH])))
        chunk.events["tic"] = int(self.game.get_episode_time())  # survival in engine tics (35 a second)
        return chunk

    def describe(self, chunk, rng):
        return describe_take_cover(ACTION_NAMES[chunk.action], chunk.events, rng)

    def make_player(self, rng):
        return TakeCoverPlayer(rng)

    @classmethod
    def describer_samples(cls, samples, rng):
        out = []
        for _ in range(samples):
            died = rng.random() < 0.05
            events = {"damage": int(rng.random() < 0.2 or died), "died": died,
                      "health": int(rng.integers(0, 101)), "coasting": bool(rng.random() < 0.3)}
            out.append(describe_take_cover(ACTION_NAMES[int(rng.integers(len(ACTION_NAMES)))], events, rng))
        return out


def describe_take_cover(action_name: str, events: dict, rng: np.random.Generator) -> str:
    """"strafe left; you are hit; health 64", or "...; you are killed" when the player dies."""
    action = describe_doom(action_name, {"coasting": events.get("coasting")}, rng, PHRASES)
    said = [action]
    if events.get("damage", 0) > 0:
        said.append(pick(rng, EVENT_PHRASES["damage"]))
    if events.get("died"):
        said.append(pick(rng, EVENT_PHRASES["died"]))
    else:
        said.append(EVENT_PHRASES["health"][0].format(n=int(events.get("health", 100))))
    return "; ".join(said)


class TakeCoverPlayer(Player):
    """Plays take_cover well in some episodes and badly in others, so that the recording holds
    long lives and quick deaths, held strafes and switches, hits and deaths.

    Each episode draws a skill in [0, 1]: the share of modes spent dodging (`_dodge`); the other
    modes hold one strafe for 2-8 chunks (sometimes swapping sides half-way), stand still, press
    random keys, or stubbornly keep one command for 10-40 chunks: pinned against a wall or
    standing still, where the game kills a player soon. An agent in the dream tries exactly that,
    and a world that never saw it rated it too well (docs/take_cover.md, "Levers")."""

    MODES = ("hold", "idle", "random", "stubborn")
    MODE_SHARES = (0.4, 0.15, 0.25, 0.2)

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.skill = float(rng.random())
        self.mode, self.left, self.side, self.switch_at = "dodge", 0, "strafe_left", -1

    def _new_mode(self):
        r = self.rng
        if r.random() < self.skill:
            self.mode = "dodge"
        else:
            self.mode = self.MODES[int(r.choice(len(self.MODES), p=self.MODE_SHARES))]
        self.left = int(r.integers(10, 41) if self.mode == "stubborn" else r.integers(2, 9))
        self.side = ("strafe_left", "strafe_right", "idle")[int(r.integers(3 if self.mode == "stubborn" else 2))]
        self.switch_at = self.left // 2 if r.random() < 1 / 3 else -1

    def act(self, game) -> int:
        if self.left <= 0:
            self._new_mode()
        self.left -= 1
        if self.mode == "random":
            return int(self.rng.integers(len(ACTION_NAMES)))
        if self.mode == "idle":
            return ACTION_NAMES.index("idle")
        if self.mode == "stubborn":
            return ACTION_NAMES.index(self.side)
        if self.mode == "hold":
            if self.left == self.switch_at:
                self.side = "strafe_right" if self.side == "strafe_left" else "strafe_left"
            return ACTION_NAMES.index(self.side)
        return ACTION_NAMES.index(self._dodge(game))

    def _dodge(self, game) -> str:
        """Keep moving and turn back at a wall: the imps aim where the player is when they throw,
        so a player that never stops is rarely where a fireball arrives. Measured on 12 episodes
        at skill 4: 88 chunks survived on average, against 43 for random keys (and 65 for a
        player that strafed away from the nearest fireball instead)."""
        if game.last_events.get("blocked") or self.rng.random() < 0.05:
            self.side = "strafe_right" if self.side == "strafe_left" else "strafe_left"
        return self.side
