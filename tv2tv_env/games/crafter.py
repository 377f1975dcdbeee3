"""Crafter: a 2-D top-down survival game with 17 named actions (Hafner, 2021).

Crafter still speaks the old gym API (`step` returns 4 values, the action space has no
`sample`), and every `reset` generates a new 64x64-cell world, which takes about 0.6 s.
This module adapts both: it calls the engine directly, reuses one engine per recording
worker, and reseeds it per episode (`_seed`/`_episode` are the engine's own seed inputs),
so that an episode is a pure function of its seed.

A chunk is `frames_per_chunk` engine steps, one frame each, and does one thing, as a player
presses a key: a move walks one cell, a craft or a placement happens once, and `do` (hit,
collect, drink), `sleep` and `noop` go on for the whole chunk; the other steps are noops.
Holding a move for the chunk walked four cells, past whatever the player aimed at, and a
held craft made up to four tools. Reward per chunk is the engine's own (+1 per achievement
unlocked, +-0.1 per health point), summed.
"""
from __future__ import annotations

import collections

import numpy as np

from .base import Chunk, GameSource, Player, join_clauses, pick
# The vocabulary lives in the light card module (crafter_card.py); its names stay importable from here.
from .crafter_card import ACTION_NAMES, CARD, EVENT_PHRASES, PHRASES, RECOMBINED_PHRASES, UNSEEN_PHRASES  # noqa: F401

ACTION_ID = {name: i for i, name in enumerate(ACTION_NAMES)}
NOOP = ACTION_ID["noop"]
HELD = {ACTION_ID[n] for n in ("noop", "do", "sleep")}  # go on for the whole chunk; the rest happen once
INVENTORY = ["health", "food", "drink", "energy", "sapling", "wood", "stone", "coal", "iron", "diamond",
             "wood_pickaxe", "stone_pickaxe", "iron_pickaxe", "wood_sword", "stone_sword", "iron_sword"]
VARIABLE_NAMES = INVENTORY + ["x", "y", "achievements"]


class CrafterGame(GameSource):
    name = CARD.name
    action_names = ACTION_NAMES
    button_names = ACTION_NAMES  # one label per action: the judge predicts the action id
    variable_names = VARIABLE_NAMES

    def __init__(self, height=64, width=64, frames_per_chunk=4):
        super().__init__(height, width, frames_per_chunk)
        import crafter

        self.env = crafter.Env(size=(width, height))
        self._obj_ids = {t.__name__.lower(): i for t, i in self.env._sem_view._obj_ids.items()}
        self._mat_ids = dict(self.env._world._mat_ids)
        self.info = None
        self.last_events = {}

    def _variables(self, info):
        inv = [info["inventory"][k] for k in INVENTORY]
        return np.array(inv + list(info["player_pos"]) + [sum(v > 0 for v in info["achievements"].values())],
                        np.float32)

    def reset(self, seed):
        self.env._seed, self.env._episode = int(seed), 0  # the engine derives its world from these
        obs = self.env.reset()
        self.info = {"inventory": self.env._player.inventory.copy(), "achievements": self.env._player.achievements.copy(),
                     "semantic": self.env._sem_view(), "player_pos": self.env._player.pos}
        self.last_events = {}
        self._last_frame = self.resize(obs)
        return self._last_frame

    def step_chunk(self, action):
        before = self.info
        frames, reward, terminated = [], 0.0, False
        for _ in range(self.frames_per_chunk):
            if terminated:
                frames.append(frames[-1])
                continue
            obs, r, done, info = self.env.step(action if not frames or action in HELD else NOOP)
            reward += float(r)
            self.info = info
            frames.append(self.resize(obs))
            terminated = bool(done and info["discount"] == 0)  # died; the length limit is a truncation
            if done and not terminated:  # engine length limit reached: hold the frame
                terminated = False
        events = self._events(before, self.info, terminated)
        self.last_events = events
        return Chunk(np.stack(frames), action, reward, terminated, events, self._variables(self.info))

    def _events(self, before, after, terminated):
        gained, spent = {}, {}
        for k in INVENTORY[4:]:
            d = after["inventory"][k] - before["inventory"][k]
            if d > 0:
                gained[k] = int(d)
            elif d < 0:
                spent[k] = int(-d)
        new = sorted(k for k, v in after["achievements"].items() if v > before["achievements"].get(k, 0)
                     and before["achievements"].get(k, 0) == 0)
        return {"gained": gained, "spent": spent, "achievements": new,
                "health": int(after["inventory"]["health"] - before["inventory"]["health"]),
                "died": bool(terminated)}

    def describe(self, chunk, rng):
        return describe_crafter(ACTION_NAMES[chunk.action], chunk.events, rng)

    def make_player(self, rng):
        return CrafterPlayer(rng)

    @classmethod
    def describer_samples(cls, samples, rng):
        try:
            from crafter.constants import achievements
        except ImportError:  # pragma: no cover - crafter is a core dependency
            achievements = [a for a in ACTION_NAMES if a.startswith(("make_", "place_"))]
        items = INVENTORY[4:]  # what can be gained or spent (health, food, drink, energy are stats)
        out = []
        for _ in range(samples):
            action = ACTION_NAMES[int(rng.integers(len(ACTION_NAMES)))]
            r = rng.random(5)
            events = {
                "gained": {items[int(rng.integers(len(items)))]: int(rng.integers(1, 3))} if r[0] < 0.3 else {},
                "spent": {items[int(rng.integers(len(items)))]: int(rng.integers(1, 3))} if r[1] < 0.15 else {},
                "achievements": [achievements[int(rng.integers(len(achievements)))]] if r[2] < 0.1 else [],
                "health": int(rng.choice([-2, -1, 1])) if r[3] < 0.3 else 0,
                "died": bool(r[4] < 0.03),
            }
            out.append(describe_crafter(action, events, rng))
        return out

    # --- what the scripted player may look at -------------------------------------------
    def nearest(self, names):
        """Offset (dx, dy) to the nearest cell holding any of `names`, or None."""
        sem = self.info["semantic"]
        ids = [self._mat_ids.get(n, self._obj_ids.get(n)) for n in names]
        mask = np.isin(sem, [i for i in ids if i is not None])
        if not mask.any():
            return None
        xs, ys = np.nonzero(mask)
        px, py = self.info["player_pos"]
        d = np.abs(xs - px) + np.abs(ys - py)
        i = int(d.argmin())
        return int(xs[i] - px), int(ys[i] - py)

    @property
    def facing(self):
        return tuple(int(v) for v in self.env._player.facing)

    @property
    def daylight(self):
        return float(self.env._world.daylight)

    @property
    def sleeping(self):
        return bool(self.env._player.sleeping)

    def _ids(self, names):
        ids = [self._mat_ids.get(n, self._obj_ids.get(n)) for n in names]
        return [i for i in ids if i is not None]

    def lava_ahead(self, direction, steps):
        """Whether walking `steps` cells in `direction` would reach lava before anything blocks."""
        sem = self.info["semantic"]
        walk, lava = self._ids(WALKABLE), self._ids(["lava"])
        x, y = self.info["player_pos"]
        for _ in range(steps):
            x, y = x + direction[0], y + direction[1]
            if not (0 <= x < sem.shape[0] and 0 <= y < sem.shape[1]):
                return False
            if sem[x, y] in lava:
                return True
            if sem[x, y] not in walk:
                return False
        return False

    def first_step(self, names, radius=32):
        """The first move (dx, dy) of a shortest walk over grass and sand to a cell next to
        one of `names` (or, given a boolean map, next to a cell it marks), within `radius`
        cells; None if there is none."""
        sem = self.info["semantic"]
        px, py = (int(v) for v in self.info["player_pos"])
        x0, y0 = max(0, px - radius), max(0, py - radius)
        win = sem[x0:px + radius + 1, y0:py + radius + 1]
        walk = np.isin(win, self._ids(OPEN_GROUND))
        goal = (names if isinstance(names, np.ndarray) else np.isin(sem, self._ids(names)))[
            x0:px + radius + 1, y0:py + radius + 1]
        start = (px - x0, py - y0)
        first = {start: None}
        queue = collections.deque([start])
        while queue:
            x, y = queue.popleft()
            for d in _DIRS:
                nx, ny = x + d[0], y + d[1]
                if not (0 <= nx < win.shape[0] and 0 <= ny < win.shape[1]) or (nx, ny) in first:
                    continue
                if goal[nx, ny]:
                    return first[(x, y)] or d
                if walk[nx, ny]:
                    first[(nx, ny)] = first[(x, y)] or d
                    queue.append((nx, ny))
        return None

    def shelter_sites(self):
        """Stone cells S1 where a two-cell room can be dug: S1 and the stone S2 behind it
        (direction d from the open cell O in front of S1) are walled on every other side.
        Returns {d: boolean map of such S1 cells}; see CrafterPlayer._shelter."""
        sem = self.info["semantic"]
        stone = sem == self._mat_ids["stone"]
        wall = np.isin(sem, self._ids(["stone", "tree", "water", "coal", "iron", "diamond", "table", "furnace"]))
        open_ = np.isin(sem, self._ids(OPEN_GROUND))
        open_[tuple(self.info["player_pos"])] = True  # the map shows the player, not the ground under it
        H, W = sem.shape

        def at(mask, dx, dy):  # at(mask, dx, dy)[x, y] = mask[x + dx, y + dy], False off the map
            out = np.zeros_like(mask)
            xs, xd = slice(max(0, -dx), min(H, H - dx)), slice(max(0, dx), min(H, H + dx))
            ys, yd = slice(max(0, -dy), min(W, W - dy)), slice(max(0, dy), min(W, W + dy))
            out[xs, ys] = mask[xd, yd]
            return out

        sites = {}
        for d in _DIRS:
            px, py = d[1], d[0]  # perpendicular
            sites[d] = (stone & at(open_, -d[0], -d[1]) & at(stone, *d) & at(wall, 2 * d[0], 2 * d[1])
                        & at(wall, px, py) & at(wall, -px, -py)
                        & at(wall, d[0] + px, d[1] + py) & at(wall, d[0] - px, d[1] - py))
        return sites

    @property
    def step_of_day(self):
        return int(self.env._step) % 300  # the engine's day is 300 steps; night is about 165-255

    def walled_in(self, room=2):
        """Whether the walkable cells the player can reach, its own included, are at most `room`."""
        sem = self.info["semantic"]
        walk = np.isin(sem, self._ids(WALKABLE + ("lava",)))
        start = tuple(int(v) for v in self.info["player_pos"])
        seen, queue = {start}, [start]
        while queue:
            x, y = queue.pop()
            for dx, dy in _DIRS:
                n = (x + dx, y + dy)
                if n not in seen and 0 <= n[0] < sem.shape[0] and 0 <= n[1] < sem.shape[1] and walk[n]:
                    seen.add(n)
                    queue.append(n)
                    if len(seen) > room:
                        return False
        return True

    @property
    def inventory(self):
        return self.info["inventory"]


def describe_crafter(action_name, events, rng, phrases=PHRASES):
    text = pick(rng, phrases[action_name])
    happened = []
    for item, n in events.get("gained", {}).items():
        happened.append(pick(rng, EVENT_PHRASES["gain"]).format(n=n, item=item.replace("_", " ")))
    for item, n in events.get("spent", {}).items():
        happened.append(EVENT_PHRASES["spend"][0].format(n=n, item=item.replace("_", " ")))
    for name in events.get("achievements", []):
        happened.append(pick(rng, EVENT_PHRASES["achievement"]).format(name=name.replace("_", " ")))
    if events.get("health", 0) < 0:
        happened.append(pick(rng, EVENT_PHRASES["hurt"]))
    elif events.get("health", 0) > 0 and rng.random() < 0.5:
        happened.append(EVENT_PHRASES["heal"][0])
    if events.get("died"):
        happened.append(pick(rng, EVENT_PHRASES["died"]))
    return text + ("; " + join_clauses(happened) if happened else "")


_DIRS = {(-1, 0): "move_left", (1, 0): "move_right", (0, -1): "move_up", (0, 1): "move_down"}
_STEP = {name: d for d, name in _DIRS.items()}
WALKABLE = ("grass", "sand", "path")  # lava is walkable too, and kills: the player never steps on it
OPEN_GROUND = ("grass", "sand")  # where it plans walks: tunnels (path) are dark and hold skeletons
ENEMIES = ("zombie", "skeleton")


class CrafterPlayer(Player):
    """Survives, so that episodes last hundreds of chunks: it fights what comes close, drinks
    and eats before it runs low, sleeps when tired and nothing hostile is near, and never
    walks into lava. Between needs it gathers (trees, then stone and coal once it has a
    pickaxe), crafts, wanders, idles, and plays random actions for a while now and then (so
    the data shows every action), each filtered so that it cannot step into lava.

    Paths are found by breadth-first search over walkable cells of the world's semantic map,
    again every chunk (a chunk's move walks one cell). While the
    engine keeps the player asleep (it does until energy is full), the action is "sleep":
    the engine ignores any other, and the recorded label must say what the frames show."""

    MODES = {"gather": 0.4, "wander": 0.15, "craft": 0.15, "idle": 0.05, "random": 0.25}

    def __init__(self, rng, epsilon=0.1):
        self.rng, self.epsilon = rng, epsilon
        self.mode, self.left, self.heading = "gather", 0, "move_left"
        self.refill = None  # "drink" or "food" while topping that up
        self.plan, self.sheltered = [], None  # the night's shelter: steps left to dig it; its door

    def _shelter(self, game, inv):
        """Nights are spent in a room dug into stone: from the open cell O in front of a stone S1,
        dig S1, step in, dig S2 behind it, step into S2 and back into S1 (which turns the player
        to face O: a move only turns the player when the cell ahead is blocked, so this is the
        one way to face the open side from inside), and wall O up with the stone just dug. The
        player sleeps in there, and digs its way out in the morning."""
        evening, morning = 60 <= game.step_of_day < 255, game.step_of_day >= 265 or game.step_of_day < 100
        if self.sheltered is not None:
            if not morning and min(inv["drink"], inv["food"]) > 2:
                return "sleep" if inv["energy"] < 9 else "noop"
            door = self.sheltered
            self.sheltered = None
            if game.facing != door:
                self.plan = ["do"]
                return _DIRS[door]  # the door is a wall now: this only turns the player
            return "do"
        if self.plan:
            return self.plan.pop(0)
        if not evening or inv["wood_pickaxe"] == 0:
            return None
        if inv["drink"] < 7 or inv["food"] < 6:  # a night inside costs about 5 of each: fill up first
            self.refill = "drink" if inv["drink"] < 7 else "food"
            return None
        sites = game.shelter_sites()
        px, py = game.info["player_pos"]
        for d, mask in sites.items():  # standing on O, in front of a site: dig in
            x, y = px + d[0], py + d[1]
            if 0 <= x < mask.shape[0] and 0 <= y < mask.shape[1] and mask[x, y]:
                back = (-d[0], -d[1])
                self.plan = ["do", _DIRS[d], "do", _DIRS[d], _DIRS[back], "place_stone", "_check:" + _DIRS[back]]
                return _DIRS[d] if game.facing != d else self.plan.pop(0)
        step = game.first_step(np.logical_or.reduce(list(sites.values())), radius=24)
        if step:
            return _DIRS[step]
        return None

    def act(self, game):
        if game.sleeping:
            return ACTION_ID["sleep"]
        if self.left <= 0:
            names, weights = zip(*self.MODES.items())
            self.mode = names[int(self.rng.choice(len(names), p=np.array(weights) / sum(weights)))]
            self.left = int(self.rng.integers(3, 12))
            self.heading = list(_DIRS.values())[int(self.rng.integers(4))]
        self.left -= 1
        inv = game.inventory
        name = self._fight(game)
        if name is not None:
            self.plan = []  # a fight moves the player: a half-dug room is planned again from where it stands
        if name is None and min(inv["drink"], inv["food"]) > 2:  # the night's room, unless starving
            name = self._shelter(game, inv)
        if name is None:
            name = self._survive(game, inv)
        if name is None:
            random_ok = game.daylight > 0.3  # at night zombies come in numbers: no time for play
            if random_ok and (self.rng.random() < self.epsilon or self.mode == "random"):
                name = ACTION_NAMES[int(self.rng.integers(len(ACTION_NAMES)))]
                if name == "sleep" and not self._may_sleep(game, inv):
                    name = "noop"
            else:
                name = getattr(self, "_" + (self.mode if self.mode != "random" else "gather"))(game, inv)
        if name.startswith("_check:"):  # the room's last step was taken: is it closed?
            self.sheltered = _STEP[name.split(":")[1]] if game.walled_in() else None
            return self.act(game)
        return ACTION_ID[self._safe(game, name)]

    def _fight(self, game):
        """Hit what is next to the player, step out of a skeleton's line, meet a zombie that comes."""
        enemy = game.nearest(ENEMIES)  # they hit when orthogonally next to the player (Manhattan 1)
        if enemy is not None and abs(enemy[0]) + abs(enemy[1]) <= 1:
            return self._towards(game, ENEMIES)
        skeleton = game.nearest(["skeleton"])  # shoots along its row or column from afar: get out of range
        if skeleton is not None and abs(skeleton[0]) + abs(skeleton[1]) <= 6:
            if 0 in skeleton:  # in its row or column: step sideways out of the line of fire
                away = [n for d, n in _DIRS.items() if d[0] * skeleton[0] + d[1] * skeleton[1] == 0]
            else:
                away = [n for d, n in _DIRS.items() if d[0] * skeleton[0] + d[1] * skeleton[1] < 0]
            return away[int(self.rng.integers(len(away)))] if away else None
        if enemy is not None and abs(enemy[0]) + abs(enemy[1]) <= 3 and self.sheltered is None:
            return self._towards(game, ["zombie"])
        return None

    def _survive(self, game, inv):
        """Needs come before the current mode: drink, eat, sleep, tools."""
        if self.refill and inv[self.refill] >= 9:
            self.refill = None
        for need, source in [("drink", "water"), ("food", "cow")]:
            if inv[need] <= 4 or self.refill == need:
                step = self._towards(game, [source])
                if step:
                    self.refill = need
                    return step
        if inv["energy"] <= 2 and self._may_sleep(game, inv) and (game.daylight > 0.4 or inv["energy"] == 0):
            return "sleep"
        return self._tools(game, inv)

    def _tools(self, game, inv):
        """A sword first (a zombie takes 5 hits bare-handed, more than one chunk holds), then a
        pickaxe and stone tools: table (2 wood), then each tool at it."""
        missing = [t for t in ("wood_sword", "wood_pickaxe") if inv[t] == 0]
        if inv["stone"] >= 1 and inv["stone_sword"] == 0:
            missing.append("stone_sword")
        if not missing:
            return None
        table = game.nearest(["table"])
        if table is not None and max(map(abs, table)) <= 1:
            for tool in missing:
                if inv["wood"] >= 1 and (tool != "stone_sword" or inv["stone"] >= 1):
                    return "make_" + tool
        elif inv["wood"] >= 3 and (table is None or abs(table[0]) + abs(table[1]) > 8):
            return "place_table"
        elif table is not None and inv["wood"] >= 1 and abs(table[0]) + abs(table[1]) <= 8:
            return self._towards(game, ["table"]) if abs(table[0]) + abs(table[1]) > 1 else None
        return self._towards(game, ["tree"]) if inv["wood"] < 3 else None

    @staticmethod
    def _may_sleep(game, inv):
        enemy = game.nearest(["zombie"])  # a zombie hits a sleeper for 7 of 9 health
        return inv["energy"] < 9 and (enemy is None or abs(enemy[0]) + abs(enemy[1]) > 8)

    def _towards(self, game, names):
        """The action that brings the player next to the nearest of `names` and then hits it."""
        off = game.nearest(names)
        if off is None:
            return None
        if abs(off[0]) + abs(off[1]) == 1:  # adjacent: face it, then hit it
            return "do" if game.facing == off else _DIRS[off]
        first = game.first_step(names)
        return _DIRS[first] if first else None

    def _safe(self, game, name):
        """A move that would walk into lava within the chunk becomes another safe move, or noop."""
        if name not in _STEP or not game.lava_ahead(_STEP[name], steps := game.frames_per_chunk):
            return name
        safe = [n for d, n in _DIRS.items() if not game.lava_ahead(d, steps)]
        return safe[int(self.rng.integers(len(safe)))] if safe else "noop"

    def _gather(self, game, inv):
        wants = []
        if inv["drink"] < 7:
            wants.append(["water"])
        if inv["food"] < 7:
            wants.append(["cow"])
        if inv["wood_pickaxe"] > 0 and inv["stone"] < 3:  # mined stone leaves path, where skeletons spawn
            wants.append(["stone", "coal"])
        wants.append(["tree"])
        for names in wants:
            step = self._towards(game, names)
            if step:
                return step
        return self.heading

    def _wander(self, game, inv):
        if self.rng.random() < 0.2:
            self.heading = list(_DIRS.values())[int(self.rng.integers(4))]
        return self.heading

    def _craft(self, game, inv):
        near_table = game.nearest(["table"])
        near_table = near_table is not None and max(map(abs, near_table)) <= 1
        if near_table:
            for tool, need in [("wood_sword", "wood"), ("wood_pickaxe", "wood"),
                               ("stone_pickaxe", "stone"), ("stone_sword", "stone")]:
                if inv[tool] == 0 and inv[need] >= 1 and inv["wood"] >= 1:
                    return "make_" + tool
        if inv["wood"] >= 2 and not near_table:
            return "place_table"
        if inv["sapling"] > 0:
            return "place_plant"
        if inv["stone"] > 0 and self.rng.random() < 0.3:
            return "place_stone"
        return self._gather(game, inv)

    def _idle(self, game, inv):
        return "noop"
