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

    def __init__(self, height=CARD.height, width=CARD.width, frames_per_chunk=CARD.frames_per_chunk):
        super().__init__(height, width, frames_per_chunk)
        import crafter

        self.env = crafter.Env(size=(width, height))
        _order_chunk_sets(self.env._world)
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
        cells; None if there is none. Cows and zombies do not block it: they move on, and a
        move into one only turns the player."""
        found = self.walk(names, radius)
        return found and found[0]

    def walk(self, names, radius=32, also=None):
        """(first move, the cell it leads next to, its length in moves) of first_step's walk, or
        None; `also`: a boolean map of more cells it may walk on."""
        sem = self.info["semantic"]
        px, py = (int(v) for v in self.info["player_pos"])
        x0, y0 = max(0, px - radius), max(0, py - radius)
        win = self.env._world._mat_map[x0:px + radius + 1, y0:py + radius + 1]
        walk = np.isin(win, self._ids(OPEN_GROUND))
        if also is not None:
            walk |= also[x0:px + radius + 1, y0:py + radius + 1] & np.isin(win, self._ids(WALKABLE))
        goal = (names if isinstance(names, np.ndarray) else np.isin(sem, self._ids(names)))[
            x0:px + radius + 1, y0:py + radius + 1]
        start = (px - x0, py - y0)
        first, length = {start: None}, {start: 0}
        queue = collections.deque([start])
        while queue:
            x, y = queue.popleft()
            for d in _DIRS:
                nx, ny = x + d[0], y + d[1]
                if not (0 <= nx < win.shape[0] and 0 <= ny < win.shape[1]) or (nx, ny) in first:
                    continue
                if goal[nx, ny]:
                    return first[(x, y)] or d, (nx + x0, ny + y0), length[(x, y)]
                if walk[nx, ny]:
                    first[(nx, ny)], length[(nx, ny)] = first[(x, y)] or d, length[(x, y)] + 1
                    queue.append((nx, ny))
        return None

    def distances(self, sources, also=None):
        """Moves from the nearest cell that boolean map `sources` marks to each cell, over grass
        and sand (and the cells `also` marks); inf where no walk leads."""
        walk = np.isin(self.env._world._mat_map, self._ids(OPEN_GROUND))
        if also is not None:
            walk |= also & np.isin(self.env._world._mat_map, self._ids(WALKABLE))
        out = np.full(walk.shape, np.inf)
        queue = collections.deque(zip(*np.nonzero(sources)))
        out[sources] = 0
        while queue:
            x, y = queue.popleft()
            for dx, dy in _DIRS:
                n = (x + dx, y + dy)
                if 0 <= n[0] < walk.shape[0] and 0 <= n[1] < walk.shape[1] and walk[n] and out[n] == np.inf:
                    out[n] = out[x, y] + 1
                    queue.append(n)
        return out

    def room_sites(self, stones):
        """Where a two-cell room can be closed for the night: cells A and B = A + d that the player
        can walk or dig into, whose four side neighbours are walls, entered from the walkable
        E = A - d (the path that digging out of last night's room leaves will do); the far end
        B + d is a wall or can take a stone, and the player's `stones` and those it digs out of
        A and B close both ends. Returns {d: boolean map of A}; see CrafterPlayer._room."""
        ground = self.env._world._mat_map  # materials only: a cow passing by changes no site
        wall = np.isin(ground, self._ids(ROOM_WALLS))
        cell = np.isin(ground, self._ids(WALKABLE + DIGGABLE))
        walk = np.isin(ground, self._ids(WALKABLE))
        end, stone = wall | walk, (ground == self._mat_ids["stone"]).astype(int)
        sites = {}
        for d in _DIRS:
            px, py = d[1], d[0]  # perpendicular
            enough = 1 + _shifted(walk, 2 * d[0], 2 * d[1]) <= stones + stone + _shifted(stone, *d)
            sides = [(px, py), (-px, -py), (d[0] + px, d[1] + py), (d[0] - px, d[1] - py)]
            sites[d] = (cell & _shifted(cell, *d) & _shifted(walk, -d[0], -d[1])
                        & _shifted(end, 2 * d[0], 2 * d[1]) & enough
                        & np.logical_and.reduce([_shifted(wall, *o) for o in sides]))
        return sites

    @staticmethod
    def room_doors(sites):
        """The entrances E = A - d of room_sites' rooms, as one boolean map."""
        return np.logical_or.reduce([_shifted(mask, *d) for d, mask in sites.items()])

    @property
    def water_side(self):
        """Boolean map of the grass and sand cells next to water, where the player can drink."""
        ground = self.env._world._mat_map
        water = ground == self._mat_ids["water"]
        near = np.logical_or.reduce([_shifted(water, *d) for d in _DIRS])
        return near & np.isin(ground, self._ids(OPEN_GROUND))

    @property
    def step_of_day(self):
        return int(self.env._step) % 300  # the engine's day is 300 steps; zombies spawn from about 115 to 305

    def free(self, offset):
        """Whether the cell at `offset` from the player is grass, sand or path with nothing on it."""
        sem = self.info["semantic"]
        x, y = (int(p + o) for p, o in zip(self.info["player_pos"], offset))
        return 0 <= x < sem.shape[0] and 0 <= y < sem.shape[1] and sem[x, y] in self._ids(WALKABLE)

    def material(self, pos):
        """The ground at world cell `pos` (None off the map), whatever stands on it."""
        return self.env._world[tuple(int(v) for v in pos)][0]

    @property
    def inventory(self):
        return self.info["inventory"]


class _OrderedSet(dict):
    """The part of `set` Crafter's world uses for a chunk's objects, iterating in insertion order."""

    def add(self, item):
        self[item] = None

    def remove(self, item):
        del self[item]


def _order_chunk_sets(world):
    """Crafter keeps each map chunk's objects in a `set`, which iterates by object address; the
    engine draws which cow or zombie to despawn by position in that order, so the same seed gave
    different episodes in different processes. Insertion-ordered sets make an episode a pure
    function of its seed."""
    reset = world.reset

    def ordered_reset(seed=None):
        reset(seed)
        world._chunks = collections.defaultdict(_OrderedSet)

    world.reset = ordered_reset


def _shifted(mask, dx, dy):
    """out[x, y] = mask[x + dx, y + dy]; False off the map."""
    H, W = mask.shape
    out = np.zeros_like(mask)
    xs, xd = slice(max(0, -dx), min(H, H - dx)), slice(max(0, dx), min(H, H + dx))
    ys, yd = slice(max(0, -dy), min(W, W - dy)), slice(max(0, dy), min(W, W + dy))
    out[xs, ys] = mask[xd, yd]
    return out


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
# Zombies and skeletons walk on WALKABLE only, and a zombie hits only from an orthogonal neighbour
# (Manhattan distance 1): a room whose neighbours are all walls is out of their reach.
ROOM_WALLS = ("stone", "tree", "water", "coal", "iron", "diamond", "table", "furnace")
DIGGABLE = ("stone", "coal")  # a wood pickaxe digs these into path
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
    LOW = {"drink": 3, "food": 3}  # it drinks or hunts before anything else at these levels
    TOP_UP = {"drink": 5, "food": 8}  # and once it has its tools, at these

    NIGHT = (60, 10)  # step_of_day from which it plans the night's room, and until which it stays in
    DARK = 150  # step_of_day by which it wants to be closed in (at 150 zombies come two a map chunk)
    CLOSING = 4  # chunks it allows for closing a room once at its entrance
    LEAVE_BY = 60  # step_of_day until which it waits inside for a zombie at the door to go
    WATER_WEIGHT = 1  # how much a room's walk to water counts against it, besides the walk to it

    def __init__(self, rng, epsilon=0.1):
        self.rng, self.epsilon = rng, epsilon
        self.mode, self.left, self.heading = "gather", 0, "move_left"
        self.refill = None  # "drink" or "food" while topping that up
        self.room = None  # the night's room (A, d): cells A and A + d, entered from A - d
        self.goal = None  # cell A of the room it walks to
        self.going = False  # on its way there for the night

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
        if self.refill and inv[self.refill] >= 9:
            self.refill = None
        name = self._fight(game) or self._make(game, inv)  # a tool takes one chunk: before the night
        if name is None:
            name = self._night(game, inv)
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
        return ACTION_ID[self._safe(game, name)]

    def _fight(self, game):
        """Hit what is next to the player, step out of a skeleton's line, meet a zombie that comes."""
        enemy = game.nearest(ENEMIES)  # they hit when orthogonally next to the player (Manhattan 1)
        if enemy is not None and abs(enemy[0]) + abs(enemy[1]) <= 1:
            return self._towards(game, ENEMIES)
        if self.room is not None or self.going:  # at, in or on its way to its room: no detours
            return None
        skeleton = game.nearest(["skeleton"])
        if skeleton is not None and self._in_line_of_fire(game, skeleton):  # step sideways out of it
            away = [n for d, n in _DIRS.items() if d[0] * skeleton[0] + d[1] * skeleton[1] == 0 and game.free(d)]
            return away[int(self.rng.integers(len(away)))] if away else None
        if enemy is not None and abs(enemy[0]) + abs(enemy[1]) <= 3 and not self._is_night(game):
            return self._towards(game, ["zombie"])  # by night it heads for its room instead
        return None

    @staticmethod
    def _in_line_of_fire(game, skeleton):
        """A skeleton shoots from up to 5 cells along its row or column, over ground, water and lava."""
        if 0 not in skeleton or abs(skeleton[0]) + abs(skeleton[1]) > 5:
            return False
        here = np.array(game.info["player_pos"])
        step = np.sign(skeleton)
        return all(game.material(here + k * step) in WALKABLE + ("water", "lava")
                   for k in range(1, abs(skeleton[0]) + abs(skeleton[1])))

    def _is_night(self, game):
        return game.step_of_day >= self.NIGHT[0] or game.step_of_day < self.NIGHT[1]

    def _night(self, game, inv):
        """Nights are spent in a two-cell room (game.room_sites) closed with stones: zombies, which
        spawn in numbers at night on grass, cannot reach a player whose neighbours are all walls.
        In the evening it drinks its fill (a night inside costs about 6 drinks), and goes on
        with its day (_survive tops food up) until it is time to walk to its room, so as to
        close it by DARK."""
        if self.room is not None:
            name = self._room(game, inv)
            if name is not None:
                return name
        if not self._is_night(game) or inv["wood_pickaxe"] == 0:
            self.going = False
            return None
        found = self._nearest_room(game, inv)
        if found is None:
            return None
        room, step, length = found
        if not self.going and self.NIGHT[0] <= game.step_of_day < self.DARK:
            spare = (self.DARK - game.step_of_day) // game.frames_per_chunk - length - self.CLOSING
            water = game.walk(["water"])
            if water and (inv["drink"] < 8 or self.refill == "drink") and spare <= 2 * water[2] + 3:
                self.refill = "drink"  # time to drink: there, a chunk or two, and on to the room
                return self._towards(game, ["water"])
            if spare > 0:
                return None
        self.going = True  # from now on it walks to its room, whatever comes
        if room is None:
            return _DIRS[step]
        self.room, self.going = room, False
        return self._room(game, inv)

    def _nearest_room(self, game, inv):
        """(room, None, 0) for the room the player stands at or in, or (None, first move, moves)
        of the walk to the room it picked (_pick_room; kept while it stays a site); None if
        there is none."""
        sites = game.room_sites(inv["stone"])
        here = np.array(game.info["player_pos"])
        for d, mask in sites.items():
            for a in (here + d, here, here - d):  # the player stands at its entrance, in A, or in B
                if 0 <= a[0] < mask.shape[0] and 0 <= a[1] < mask.shape[1] and mask[tuple(a)]:
                    return (tuple(int(v) for v in a), d), None, 0
        doors = game.room_doors(sites)
        if self.goal is None or not any(mask[self.goal] for mask in sites.values()):
            self.goal = self._pick_room(game, sites, doors)
        if self.goal is None:
            return None
        goal = np.zeros_like(doors)
        goal[self.goal] = True
        found = game.walk(goal, also=doors)
        if found is None:
            self.goal = None
        return found and (None, found[0], found[2])

    def _pick_room(self, game, sites, doors):
        """Cell A of the room whose entrance is nearest, counting the walk there and twice the
        walk from there to water: a night inside costs about 7 drinks, so that the player drinks
        on its way in and on its way out."""
        start = np.zeros_like(doors)
        start[tuple(game.info["player_pos"])] = True
        cost = game.distances(start, also=doors) + self.WATER_WEIGHT * game.distances(game.water_side, also=doors)
        best, pick = np.inf, None
        for d, mask in sites.items():
            for a in zip(*np.nonzero(mask)):
                door = (a[0] - d[0], a[1] - d[1])
                if cost[door] < best:
                    best, pick = cost[door], (int(a[0]), int(a[1]))
        return pick

    def _room(self, game, inv):
        """One step of entering, closing, resting in or leaving the room; None once the player is
        outside it. A move only turns the player when the cell ahead is blocked, so from inside
        it can face an open end only by walking towards it from the other cell: it walks to the
        far cell (which faces the far end) and back (which faces the entrance), placing a stone
        on each end it faces open."""
        (ax, ay), d = self.room
        a, here = np.array((ax, ay)), np.array(game.info["player_pos"])
        night = self._is_night(game)
        if np.array_equal(here, a - d) and night:  # at the entrance: dig A if need be, step in
            return "do" if game.facing == d and game.material(a) in DIGGABLE else _DIRS[d]
        cells = [tuple(a), tuple(a + d)]
        if tuple(here) not in cells:
            self.room = None
            return None
        toward = d if tuple(here) == cells[0] else (-d[0], -d[1])  # from here to the other cell
        other = here + toward
        ends_open = [game.material(c) in WALKABLE + ("lava",) for c in (here - toward, other + toward)]
        zombie = game.nearest(["zombie"])
        waiting = zombie is not None and abs(zombie[0]) + abs(zombie[1]) <= 4  # it hits whoever steps out
        if not night and not (waiting and not any(ends_open) and game.step_of_day < self.LEAVE_BY):
            return self._leave(game, here, a, d)
        if not any(ends_open):
            return self._rest(game, inv, here, toward)
        if game.facing == (-toward[0], -toward[1]) and ends_open[0]:
            return "place_stone"
        if game.facing == toward and game.material(other) in DIGGABLE:
            return "do"
        return _DIRS[toward]

    def _rest(self, game, inv, here, toward):
        """Closed in: drink from a water wall (a move towards a wall only turns the player to it),
        sleep while tired, else walk between the two cells or turn to a wall."""
        water = [d for d in _DIRS if game.material(here + d) == "water"]
        if inv["drink"] < 9 and water:
            return "do" if game.facing in water else _DIRS[water[0]]
        if inv["drink"] < 9 and any(game.material(here + toward + d) == "water" for d in _DIRS):
            return _DIRS[toward]
        if inv["energy"] < 9:
            return "sleep"
        return ("noop", *_DIRS.values())[int(self.rng.integers(5))]

    def _leave(self, game, here, a, d):
        """Out through the entrance: to cell A, face the entrance, dig its stone, walk out."""
        back = (-d[0], -d[1])
        if not np.array_equal(here, a):
            return _DIRS[back]
        if game.facing == back and game.material(a - d) in DIGGABLE:
            return "do"
        if game.material(a - d) in WALKABLE:
            self.room = None
        return _DIRS[back]

    def _survive(self, game, inv):
        """Needs come before the current mode: drink and food when low, sleep when exhausted,
        tools, then drink and food again well before they run low (a cow hunt takes many
        chunks), and the stones that close the night's room."""
        name = self._refill(game, inv, self.LOW)
        if name is None and inv["energy"] <= 2 and self._may_sleep(game, inv) and (
                game.daylight > 0.4 or inv["energy"] == 0):
            name = "sleep"
        name = name or self._tools(game, inv) or self._refill(game, inv, self.TOP_UP)
        if name is None and inv["wood_pickaxe"] > 0 and inv["stone"] < 2:
            name = self._towards(game, ["stone"])
        return name

    def _refill(self, game, inv, low):
        """Drink, or hunt, while that is at or below `low` ({need: level}) or until it is full."""
        for need, source in [("drink", "water"), ("food", "cow")]:
            if inv[need] <= low[need] or self.refill == need:
                step = self._towards(game, [source]) if source == "water" else self._hunt(game)
                if step:
                    self.refill = need
                    return step
        return None

    def _tools(self, game, inv):
        """A pickaxe first (stone closes the night's room), then a sword (a zombie takes 5 hits
        bare-handed, more than one chunk holds): a table (2 wood) with the wood for each missing
        tool (1 each; a cut tree is gone), then each tool at it."""
        missing = [t for t in ("wood_pickaxe", "wood_sword") if inv[t] == 0]
        made = self._make(game, inv)
        if made or not missing:
            return made
        table = game.nearest(["table"])
        far = table is None or abs(table[0]) + abs(table[1]) > 8
        if inv["wood"] >= 2 + len(missing) and far:
            return "place_table"
        if not far and inv["wood"] >= 1:
            return self._towards(game, ["table"])
        return self._towards(game, ["tree"]) if inv["wood"] < 2 + len(missing) else None

    @staticmethod
    def _make(game, inv):
        """At a table, the first tool it lacks and can make: wood pickaxe, wood sword, stone sword."""
        table = game.nearest(["table"])
        if table is None or max(map(abs, table)) > 1:
            return None
        for tool, stone in [("wood_pickaxe", 0), ("wood_sword", 0), ("stone_sword", 1)]:
            if inv[tool] == 0 and inv["wood"] >= 1 and inv["stone"] >= stone:
                return "make_" + tool
        return None

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

    def _hunt(self, game):
        """Cows wander off during a chunk's idle steps, so that facing one rarely lasts to the next
        chunk: it lies in wait, holding `do` towards a free cell next to the cow (it walks into a
        given neighbour one step in eight, and is hit the step after), turns to face a cow next
        to it, and otherwise walks up to one."""
        cow = game.nearest(["cow"])
        if cow is None:
            return None

        def next_to_cow(cell):
            return abs(cell[0] - cow[0]) + abs(cell[1] - cow[1]) == 1

        ahead = game.facing
        if tuple(ahead) == cow or (next_to_cow(ahead) and game.free(ahead)):
            return "do"
        if abs(cow[0]) + abs(cow[1]) == 1:
            return _DIRS[cow]  # the cow blocks the move: this only turns the player
        for d, name in _DIRS.items():  # a step after which the player faces a cell next to the cow
            if game.free(d) and next_to_cow((2 * d[0], 2 * d[1])) and game.free((2 * d[0], 2 * d[1])):
                return name
        return self._towards(game, ["cow"])

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
        if inv["wood"] >= 2 and not near_table and inv["wood_pickaxe"] and inv["wood_sword"]:
            return "place_table"  # not before the tools: the wood is theirs
        if inv["sapling"] > 0:
            return "place_plant"
        if inv["stone"] > 0 and self.rng.random() < 0.3:
            return "place_stone"
        return self._gather(game, inv)

    def _idle(self, game, inv):
        return "noop"
