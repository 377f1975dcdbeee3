"""ViZDoom, the default game: first-person, like the paper's CS:GO footage.

Scenarios. By default episodes alternate between `defend_the_center` (a round arena
where monsters walk in from all sides: turning sweeps the whole wall texture, shooting
flashes and kills, moving changes the floor perspective) and Freedoom 2's MAP01 (rooms,
doors and corridors where moving, strafing and picking things up change the view a lot
and the player rarely dies). Both were the easiest places to tell every action apart
from frames alone in our measurements (MEASURED.md, "Recording"); `deadly_corridor`
was the hardest, since its walls block strafes and backward moves.

Engine settings (also from MEASURED.md): 160x120 RGB rendered headless and box-filtered
down, HUD off, weapon visible, skill 1 for the default mix (`SCENARIOS`, as its data was recorded;
any other scenario plays its own cfg's skill, as its authors and published results define it:
take_cover's 4), cheats on so that `give ammo` keeps the pistol
firing (every shoot command flashes), frame skip 2 (a 4-frame chunk is 8 tics, 0.23 s).

Reward per chunk: +1 per kill, +0.1 per item picked up, -0.01 per point of damage taken,
-1 on death. The scenario's own reward is not used, so all scenarios share one scale.
"""
from __future__ import annotations

import os

import numpy as np

from .base import Chunk, GameSource, Player, join_clauses, pick
# The vocabulary lives in the light card module (doom_card.py); its names stay importable from here.
from .doom_card import (ACTION_NAMES, BUTTON_NAMES, CARD, EVENT_PHRASES, EVERYDAY_PHRASES, PHRASES,  # noqa: F401
                        RECOMBINED_PHRASES, TRAINING_PHRASES, UNSEEN_PHRASES)

_ENGINE_BUTTONS = ["MOVE_FORWARD", "MOVE_BACKWARD", "TURN_LEFT", "TURN_RIGHT", "MOVE_LEFT", "MOVE_RIGHT", "ATTACK"]
ACTION_ID = {name: i for i, name in enumerate(ACTION_NAMES)}

VARIABLE_NAMES = ["health", "armor", "ammo", "kills", "items", "hits", "damage_taken", "x", "y", "angle", "dead"]
_ENGINE_VARIABLES = ["HEALTH", "ARMOR", "SELECTED_WEAPON_AMMO", "KILLCOUNT", "ITEMCOUNT", "HITCOUNT",
                     "DAMAGE_TAKEN", "POSITION_X", "POSITION_Y", "ANGLE", "DEAD"]

SCENARIOS = ["defend_the_center", "freedoom2:MAP01"]
# The default world's scenarios were recorded at skill 1 (MEASURED.md: an easier game shows more
# of every action); every other scenario plays the skill its cfg sets unless `skill=` says otherwise.
RECORDED_SKILL = {scenario: 1 for scenario in SCENARIOS}
# Labels-buffer names that are not things to shoot at.
_NOT_ENEMIES = {"DoomPlayer", "BulletPuff", "Blood", "ExplosiveBarrel", "TeleportFog", "ItemFog"}
_MONSTERS = {"Zombieman", "ShotgunGuy", "ChaingunGuy", "DoomImp", "Demon", "Spectre", "LostSoul",
             "Cacodemon", "HellKnight", "BaronOfHell", "Arachnotron", "PainElemental", "Revenant",
             "Fatso", "Archvile", "Cyberdemon", "SpiderMastermind", "WolfensteinSS", "MarineChainsawVzd",
             "MarineFistVzd", "ScriptedMarine"}
_MOVES = {"forward", "backward", "strafe_left", "strafe_right"}


def _require_vizdoom():
    try:
        import vizdoom
    except ImportError as e:  # pragma: no cover - vizdoom is a core dependency
        raise RuntimeError("vizdoom is not installed: pip install -e . (it is a core dependency)") from e
    return vizdoom


class DoomGame(GameSource):
    name = CARD.name
    action_names = ACTION_NAMES
    button_names = BUTTON_NAMES
    variable_names = VARIABLE_NAMES
    screen_width = 160  # engine resolution, used by the scripted player to aim

    def __init__(self, height=CARD.height, width=CARD.width, frames_per_chunk=CARD.frames_per_chunk, scenarios=None,
                 frame_skip=2, ammo_every=300, player="dodge", skill: int | None = None):
        """skill: Doom's skill level 1-5 for every scenario; None: RECORDED_SKILL for the default
        mix, the scenario cfg's own for any other (take_cover: 4)."""
        super().__init__(height, width, frames_per_chunk)
        if skill is not None and not 1 <= int(skill) <= 5:
            from ..errors import UserError
            raise UserError(f"Doom skill {skill!r} is not one of 1-5")
        self.skill = skill
        if player not in DoomPlayer.STYLES:
            from ..errors import UserError
            raise UserError(f"unknown Doom player style {player!r}; choose one of {', '.join(DoomPlayer.STYLES)}")
        self.player = player
        self.scenarios = list(scenarios or SCENARIOS)
        for s in self.scenarios:
            _scenario_files(s)  # fail now, with a clear message, on an unknown scenario
        self.frame_skip, self.ammo_every = frame_skip, ammo_every
        self._games = {}  # one engine instance per scenario, created on first use
        self.game = None
        self.labels = []  # (name, center_x, center_y, w, h) of visible objects, engine pixels
        self.last_events = {}
        self._vars = None
        self._chunks = 0

    # --- engine -------------------------------------------------------------------------
    def _engine(self, scenario):
        if scenario not in self._games:
            vzd = _require_vizdoom()
            cfg, doom_map = _scenario_files(scenario)
            g = vzd.DoomGame()
            g.load_config(cfg)
            if doom_map:
                g.set_doom_map(doom_map)
            g.set_window_visible(False)
            g.set_mode(vzd.Mode.PLAYER)
            g.set_screen_resolution(vzd.ScreenResolution.RES_160X120)
            g.set_screen_format(vzd.ScreenFormat.RGB24)
            g.set_render_hud(False)
            g.set_render_weapon(True)
            g.set_render_crosshair(False)
            g.set_render_messages(False)
            g.set_sound_enabled(False)
            g.set_labels_buffer_enabled(True)  # lets the scripted player see what is where
            skill = self.skill if self.skill is not None else RECORDED_SKILL.get(scenario)
            if skill is not None:  # else the cfg's own, which load_config has set
                g.set_doom_skill(int(skill))
            g.add_game_args("+sv_cheats 1")
            g.set_available_buttons([getattr(vzd.Button, b) for b in _ENGINE_BUTTONS])
            g.set_available_game_variables([getattr(vzd.GameVariable, v) for v in _ENGINE_VARIABLES])
            g.set_episode_timeout(0)  # episodes are bounded by the recorder's --max-chunks
            g.init()
            self._games[scenario] = g
        return self._games[scenario]

    def reset(self, seed):
        scenario = self.scenarios[seed % len(self.scenarios)]
        self.scenario = scenario
        self.game = self._engine(scenario)
        self.game.set_seed(int(seed) % (2**31))
        self.game.new_episode()
        # Let the weapon finish rising: without these idle tics the first chunks of an
        # episode depend on how the previous one ended, and the same seed would not
        # give the same frames.
        self.game.make_action([0] * len(_ENGINE_BUTTONS), 8)
        self.game.send_game_command("give ammo")
        self._chunks = 0
        self.last_events = {}
        state = self.game.get_state()
        self._vars = np.asarray(state.game_variables, np.float32)
        self._read_labels(state)
        self._last_frame = self.resize(state.screen_buffer)
        return self._last_frame

    def _read_labels(self, state):
        self.labels = [(l.object_name, l.x + l.width / 2, l.y + l.height / 2, l.width, l.height)
                       for l in (state.labels or [])]

    def buttons(self, action):
        out = np.zeros(len(self.button_names), np.uint8)
        for part in self.action_names[action].split("+"):
            if part != "idle":
                out[self.button_names.index(part)] = 1
        return out

    def step_chunk(self, action):
        g = self.game
        parts = self.action_names[action].split("+")  # the engine's buttons are Doom's BUTTON_NAMES, in order
        press = [int(b in parts) for b in BUTTON_NAMES]
        self._chunks += 1
        if self.ammo_every and self._chunks % self.ammo_every == 0:
            g.send_game_command("give ammo")
        before = self._vars.copy()
        frames, terminated = [], False
        for _ in range(self.frames_per_chunk):
            if not terminated:
                g.make_action(press, self.frame_skip)
                terminated = g.is_episode_finished()
            if terminated:  # the episode ended inside the chunk: hold the last frame
                frames.append(frames[-1] if frames else self._last_frame)
                continue
            state = g.get_state()
            self._vars = np.asarray(state.game_variables, np.float32)
            self._read_labels(state)
            frames.append(self.resize(state.screen_buffer))
        self._last_frame = frames[-1]
        after = self._vars.copy()
        if terminated:
            after[VARIABLE_NAMES.index("dead")] = float(g.is_player_dead())
        events = self._events(action, before, after, terminated)
        self.last_events = events
        reward = events["kills"] + 0.1 * events["items"] - 0.01 * events["damage"] - float(events["died"])
        return Chunk(np.stack(frames), action, float(reward), bool(terminated), events, after)

    def _events(self, action, before, after, terminated):
        d = {n: float(after[i] - before[i]) for i, n in enumerate(VARIABLE_NAMES)}
        parts = set(self.action_names[action].split("+"))
        moved = float(np.hypot(d["x"], d["y"]))
        turned = (d["angle"] + 180.0) % 360.0 - 180.0
        return {
            "kills": int(max(d["kills"], 0)),
            "hits": int(max(d["hits"], 0)),
            "damage": int(max(d["damage_taken"], 0)),
            "items": int(max(d["items"], 0)),
            "ammo_used": int(max(-d["ammo"], 0)),
            "moved": round(moved, 2),
            "turned": round(turned, 2),
            # a commanded move that went almost nowhere: a wall or a monster is in the way
            "blocked": bool(parts & _MOVES) and moved < 2.0 and not terminated,
            # no move commanded but momentum from the last chunk still carries the player
            "coasting": not (parts & _MOVES) and moved > 4.0,
            "died": bool(terminated and after[VARIABLE_NAMES.index("dead")] > 0),
        }

    def close(self):
        for g in self._games.values():
            g.close()
        self._games.clear()

    # --- text ---------------------------------------------------------------------------
    def describe(self, chunk, rng):
        return describe_doom(self.action_names[chunk.action], chunk.events, rng)

    def make_player(self, rng):
        return DoomPlayer(rng, style=self.player)

    @classmethod
    def describer_samples(cls, samples, rng):
        out = []
        for _ in range(samples):
            action = ACTION_NAMES[int(rng.integers(len(ACTION_NAMES)))]
            r = rng.random(7)
            events = {
                "kills": int(rng.integers(1, 5)) if r[0] < 0.15 else 0,
                "hits": int(rng.integers(1, 4)) if r[1] < 0.2 else 0,
                "items": 1 if r[2] < 0.1 else 0,
                "damage": int(rng.integers(1, 30)) if r[3] < 0.15 else 0,
                "blocked": bool(r[4] < 0.2),
                "coasting": bool(r[5] < 0.3),
                "died": bool(r[6] < 0.03),
            }
            out.append(describe_doom(action, events, rng))
        return out


def describe_doom(action_name: str, events: dict, rng: np.random.Generator, phrases=PHRASES) -> str:
    """Action words first ("sidestep left and fire"), then what happened ("; an enemy dies")."""
    parts = [p for p in action_name.split("+") if p != "idle"]
    if not parts:
        action = pick(rng, phrases["coast"] if events.get("coasting") else phrases["idle"])
    else:
        words = [pick(rng, phrases[p]) for p in parts]
        if len(words) > 1 and rng.random() < 0.3:
            words.reverse()  # "shoot and turn left" as well as "turn left and shoot"
        action = join_clauses(words)
        if events.get("blocked"):
            action += " " + pick(rng, EVENT_PHRASES["blocked"])
    happened = []
    if events.get("kills", 0) == 1:
        happened.append(pick(rng, EVENT_PHRASES["kill"]))
    elif events.get("kills", 0) > 1:
        happened.append(pick(rng, EVENT_PHRASES["kills"]).format(n=events["kills"]))
    elif events.get("hits", 0) > 0:
        happened.append(pick(rng, EVENT_PHRASES["hit"]))
    if events.get("items", 0) > 0:
        happened.append(pick(rng, EVENT_PHRASES["item"]))
    if events.get("damage", 0) > 0:
        happened.append(pick(rng, EVENT_PHRASES["damage"]))
    if events.get("died"):
        happened.append(pick(rng, EVENT_PHRASES["died"]))
    return action + ("; " + join_clauses(happened) if happened else "")


def _scenario_files(scenario: str):
    """'defend_the_center' or 'freedoom2:MAP01' -> (config path, map or None)."""
    from ..errors import UserError

    vzd = _require_vizdoom()
    name, _, doom_map = scenario.partition(":")
    cfg = os.path.join(vzd.scenarios_path, name + ".cfg")
    if not os.path.exists(cfg):
        known = sorted(f[:-4] for f in os.listdir(vzd.scenarios_path) if f.endswith(".cfg"))
        raise UserError(f"unknown Doom scenario {name!r}; choose one of {', '.join(known)} "
                        f"(add ':MAPxx' for a map of freedoom1/freedoom2)")
    if name in ("doom", "doom2"):
        raise UserError(f"scenario {name!r} needs the commercial IWAD, which ViZDoom does not ship; "
                        f"use freedoom2:MAP01 instead")
    return cfg, (doom_map or None)


class DoomPlayer(Player):
    """Plays with purpose and variety: explores, hunts what it sees, picks things up,
    strafes, backs off, idles, and plays at random for a while now and then.

    It switches between modes that last a few chunks; a small share of single chunks is
    uniform random on top, so every action is seen in many situations.

    Two styles. "dodge" (the default data of 2026-12, `data/doom`) strafes in bursts of
    two chunks that swap sides, and draws its attack and its shoot-or-not anew every chunk,
    so that three chunks of one strafe or of "shoot" alone in a row are rare (1.3% and 0.2%
    of strafe-left and strafe-right chunks, 1.4% of "shoot"). "hold" keeps what a mode
    chose for the whole mode, sometimes with one switch in its middle (strafe left, then
    right), strafes twice as often, and holds random actions for 1-4 chunks: a held key
    in the play window is the same command for many chunks, and a model learns to draw
    the third chunk of a strafe only from data that has them.
    """

    STYLES = ("dodge", "hold")
    MODES = {"explore": 0.25, "hunt": 0.25, "collect": 0.1, "strafe": 0.1,
             "idle": 0.07, "backpedal": 0.08, "random": 0.15}
    HOLD_MODES = {"explore": 0.2, "hunt": 0.2, "collect": 0.08, "strafe": 0.2,
                  "idle": 0.07, "backpedal": 0.1, "random": 0.15}

    def __init__(self, rng, epsilon=0.1, style="dodge"):
        self.rng, self.epsilon, self.style = rng, epsilon, style
        self.mode, self.left = "explore", 0
        self.turn_dir = "turn_left"
        self.turning = 0
        # what a "hold" mode keeps for its whole length (drawn in _new_mode)
        self.side, self.switch_at, self.shooting, self.attack, self.random_action = "strafe_left", -1, False, 0, 0

    def _new_mode(self):
        modes = self.HOLD_MODES if self.style == "hold" else self.MODES
        names, weights = zip(*modes.items())
        self.mode = names[int(self.rng.choice(len(names), p=np.array(weights) / sum(weights)))]
        self.left = int(self.rng.integers(2, 9))
        self.turn_dir = "turn_left" if self.rng.random() < 0.5 else "turn_right"
        if self.style == "hold":
            self.side = "strafe_left" if self.rng.random() < 0.5 else "strafe_right"
            # a third of the strafe modes swap sides once, half-way: the switch a user makes
            self.switch_at = self.left // 2 if self.rng.random() < 1 / 3 else -1
            self.shooting = self.rng.random() < 0.3
            self.attack = int(self.rng.integers(6))
            self.random_action = None

    def act(self, game):
        if self.left <= 0:
            self._new_mode()
        self.left -= 1
        if self.rng.random() < self.epsilon:
            return int(self.rng.integers(len(ACTION_NAMES)))
        if self.mode == "random":
            if self.style == "dodge":
                return int(self.rng.integers(len(ACTION_NAMES)))
            if self.left % 4 == 3 or self.random_action is None:  # a new random action every 1-4 chunks
                self.random_action = int(self.rng.integers(len(ACTION_NAMES)))
            return self.random_action
        return ACTION_ID[getattr(self, "_" + self.mode)(game)]

    def _steer(self, game, x, shoot=False):
        """Turn towards screen column x; once roughly centred, go straight."""
        off = x - game.screen_width / 2
        if abs(off) < 12:
            return None
        turn = "turn_left" if off < 0 else "turn_right"
        return turn + ("+shoot" if shoot else "")

    def _targets(self, game, enemies):
        out = []
        for name, x, y, w, h in game.labels:
            is_enemy = name in _MONSTERS
            if name in _NOT_ENEMIES or is_enemy != enemies:
                continue
            out.append((w * h, x))
        return [x for _, x in sorted(out, reverse=True)]

    def _explore(self, game):
        if game.last_events.get("blocked") and not self.turning:
            self.turning = int(self.rng.integers(2, 6))
            self.turn_dir = "turn_left" if self.rng.random() < 0.5 else "turn_right"
        if self.turning:
            self.turning -= 1
            return self.turn_dir
        r = self.rng.random()
        if r < 0.6:
            return "forward"
        return "forward+" + self.turn_dir if r < 0.85 else self.turn_dir

    def _hunt(self, game):
        enemies = self._targets(game, enemies=True)
        if not enemies:
            return self.turn_dir  # scan for something to shoot
        steer = self._steer(game, enemies[0], shoot=self.rng.random() < 0.3)
        if steer:
            return steer
        attack = self.attack if self.style == "hold" else int(self.rng.integers(6))
        return ["shoot", "shoot", "forward+shoot", "strafe_left+shoot", "strafe_right+shoot",
                "backward+shoot"][attack]

    def _collect(self, game):
        items = self._targets(game, enemies=False)
        if not items:
            return self._explore(game)
        steer = self._steer(game, items[0])
        return ("forward+" + steer) if steer else "forward"

    def _strafe(self, game):
        if self.style == "hold":
            if self.left == self.switch_at:
                self.side = "strafe_right" if self.side == "strafe_left" else "strafe_left"
            return self.side + ("+shoot" if self.shooting else "")
        side = "strafe_left" if (self.left // 2) % 2 == 0 else "strafe_right"
        return side + ("+shoot" if self.rng.random() < 0.3 else "")

    def _idle(self, game):
        return "idle"

    def _backpedal(self, game):
        shoot = self.shooting if self.style == "hold" else self.rng.random() < 0.3
        return "backward+shoot" if shoot else "backward"
