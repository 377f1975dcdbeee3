"""`tv2tv play`: play the world model in a window, with the keyboard or with typed commands.

    tv2tv play                                       # a window: hold keys to act, T to type
    tv2tv play --headless --steps 40 --video play.mp4 --screenshot play.png

The window shows the generated game (64x64 frames scaled up, nearest neighbour), a side
panel (the key bindings, the command driving the world now and who wrote it, recent
commands, speed and step counters) and a text box. Each env step generates one chunk of 4
frames (0.25 s of play); the window shows them at the game's frame rate (its card's render_fps,
16 frames/s) and generates the
next chunk when they run out, reading the keys at that moment. With no key held the model
writes its own text, shown in blue as "model thinks: ...".

Keys (the game's keys come from the table in agents/keyboard.py and are listed on screen):
    T or Enter   type any command ("turn around and run"); Enter sends, Esc cancels. The
                 world waits while you type. A typed command holds until you press a game
                 key or type another (sending an empty box ends it).
    P pause      R reset (a new start context)      V start/stop recording an mp4 of the window
    F2 or F12 screenshot (PNG)      H or F1 help      Esc or closing the window quits

Headless (`--headless`): no window and no waiting (SDL's dummy video driver). A command
script drives the game (`--commands FILE`, format in agents/scripted.py; default: a short
built-in demo) and every frame of the same window surface goes to `--video`. Prints a JSON
summary: steps, frames, seconds, generated frames per second, video and screenshot paths.

Arguments (python -m agents.play --help):
    --game doom|crafter   TV2TV/Doom-v0 or TV2TV/Crafter-v0 (default doom)
    --checkpoint DIR      a checkpoint or `tv2tv train` run directory (default: the shipped model)
    --device D            auto (CUDA if present), cpu or cuda
    --seed N              seed of the first reset: start context and sampling noise (default 0)
    --scale N             screen pixels per game pixel (default 8: 64x64 -> 512x512)
    --steps N             stop after N steps (default: until you quit; headless: 40)
    --headless            no window; the command script plays
    --commands FILE       command script (headless; in a window you watch it play)
    --video OUT.mp4       record the window from the start (in a window, V toggles recording)
    --screenshot OUT.png  where the first screenshot goes (headless: the last frame drawn)
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from tv2tv_env.errors import UserError
from tv2tv_env.commands import MAX_COMMAND_LENGTH, check_command
from tv2tv_env.games import CARDS, DEFAULT_GAME, env_id, get_card

from .base import TextAgent
from .keyboard import KeyboardAgent, bindings
from .scripted import ScriptedAgent, parse_script

PANEL_WIDTH = 400
BAR_HEIGHT = 48
STAGE = 512  # the game view's area is at least this square: the panel, help and messages need the room
HELP_SECONDS = 3  # the help overlay opens for the first 3 s
TOAST_SECONDS = 2
HEADLESS_STEPS = 40

BACKGROUND, PANEL, BOX = (16, 16, 20), (30, 30, 36), (44, 44, 52)
TEXT, DIM = (236, 236, 236), (150, 150, 160)
ACCENT, THOUGHT, ERROR, RECORDING = (255, 196, 70), (120, 190, 255), (255, 110, 100), (235, 60, 60)

# The window's own keys (pygame key names) -> the method they call. agents/keyboard.py keeps
# the games' keys off these (a test checks it).
UI_KEYS = {"t": "open_box", "return": "open_box", "enter": "open_box", "p": "toggle_pause", "r": "new_start",
           "f2": "take_screenshot", "f12": "take_screenshot", "v": "toggle_recording", "h": "toggle_help",
           "f1": "toggle_help", "escape": "quit"}
HELP = [
    "Hold the keys listed on the right to act. Two keys combine: W and A send \"move forward and turn left\".",
    "No key held: the model decides what happens and writes its own text, shown in blue.",
    "T or Enter: type any command. Enter sends, Esc cancels; the world waits while you type. "
    "A typed command holds until you press a game key or type another.",
    "P pause    R new start    V record mp4    F2 screenshot",
    "H help    Esc quit",
]

# `--headless` without `--commands`: a few interventions, with the model deciding in between.
DEMO_SCRIPT = """
0   turn left
4   shoot
6   turn right
10  move forward
14  -
17  move forward and turn left
20  turn left and shoot
22  -
"""

SOURCES = {"keys": "from your keys", "typed": "typed by you", "script": "from the script", "agent": "from the agent",
           "model": "written by the model", "start": "start context"}


class Play:
    """One play session: the env, the agent, the frames still to show, and the window surface.

    `handle_event` takes pygame events, `advance` moves one frame on (generating a chunk when
    the frames run out), `draw` paints the window. Interactive and headless play share all three.
    """

    def __init__(self, env, agent: TextAgent, scale: int = 8, steps: int | None = None, video=None,
                 screenshot=None, title: str = "TV2TV Gym"):
        import pygame

        self.pg, self.env, self.agent, self.limit = pygame, env, agent, steps
        self.game = env.unwrapped.world.game
        self.fps = env.metadata["render_fps"]  # the game's frame rate (its card's)
        self.last_read = None  # the wording the last new-word command was read as (a toast when it changes)
        h, w = env.observation_space.shape[:2]
        self.view = (w * scale, h * scale)
        self.stage = pygame.Rect(0, 0, max(self.view[0], STAGE), max(self.view[1], STAGE))  # view centred in it
        self.size = (self.stage.width + PANEL_WIDTH, self.stage.height + BAR_HEIGHT)
        pygame.display.init()
        pygame.font.init()
        try:
            self.screen = pygame.display.set_mode(self.size)
        except pygame.error as e:
            raise UserError(f"cannot open a window ({e}); play without one: --headless --video OUT.mp4") from None
        pygame.display.set_caption(f"{title}: {self.game}")
        pygame.key.stop_text_input()  # on only while the box is open, so the T that opens it types nothing
        self.fonts = {}
        self.video, self.screenshot = video, screenshot
        self.videos, self.screenshots = [], []
        self.writer = None
        self.recorded_frames = 0

        self.queue = collections.deque()  # frames of the last chunk not shown yet
        self.history = collections.deque(maxlen=12)  # (step, source, text, thought), newest first
        self.toasts = []  # [text, colour, frames left]
        self.steps = self.frames = self.thoughts = self.finished_episodes = 0
        self.episode = self.episode_steps = 0
        self.episode_return = 0.0
        self.model_seconds = 0.0
        self.step_seconds = collections.deque(maxlen=8)
        self.shown_at = collections.deque(maxlen=self.fps + 1)
        self.running, self.paused, self.end_pending = True, False, False
        self.typing: str | None = None  # the text box's contents while it is open
        self.help_pinned, self.help_left = False, HELP_SECONDS * self.fps
        self.ticks = 0

    # --- the world ------------------------------------------------------------------------
    def start(self, seed=None):
        obs, info = self.env.reset(seed=seed)
        self.agent.reset(obs, info)
        self.obs, self.info, self.frame = obs, info, obs
        self.queue.clear()
        self.end_pending = False
        self.now = ("start", info["text"], False)
        self.episode += 1
        self.episode_steps, self.episode_return = 0, 0.0

    def source(self) -> str:
        if hasattr(self.agent, "source"):
            return self.agent.source
        return "script" if isinstance(self.agent, ScriptedAgent) else "agent"

    def generate(self):
        """One env step: the agent's command now (for the keyboard: the keys held right now)."""
        command = self.agent.act(self.obs, self.info)
        source = self.source()
        try:
            check_command(command)
        except (TypeError, ValueError) as e:  # say so in the window, and let the model go on
            self.toast(f"command refused: {e}", ERROR, 4)
            command = ""
        t0 = time.perf_counter()
        obs, reward, terminated, truncated, info = self.env.step(command)
        dt = time.perf_counter() - t0
        self.model_seconds += dt
        self.step_seconds.append(dt)
        if info.get("read_as") == "unplaced":  # off-topic text: the model decided instead
            self.toast(f"'{command}' is not something this world knows: the model decides", ACCENT, 3)
        elif info.get("read_as") == "nearest" and info["text"] != self.last_read:  # new words: say how they were read
            self.toast(f"'{command}' read as '{info['text']}'", ACCENT, 2)
        self.last_read = info["text"] if info.get("read_as") == "nearest" else None
        if info["thought"]:
            source = "model"
            self.thoughts += 1
        self.obs, self.info = obs, info
        self.steps += 1
        self.episode_steps += 1
        self.episode_return += reward
        self.queue.extend(info["frames"])
        self.now = (source, info["text"], info["thought"])
        self.history.appendleft((self.steps, source, info["text"], info["thought"]))
        self.end_pending = terminated or truncated  # reset once this chunk has been shown

    def end_episode(self):
        self.finished_episodes += 1
        self.toast(f"episode over (return {self.episode_return:+.2f}): a new start", ACCENT, TOAST_SECONDS)
        self.start()

    @property
    def finished(self) -> bool:
        return self.limit is not None and self.steps >= self.limit and not self.queue

    def advance(self) -> bool:
        """Show the next frame, generating a chunk first if none is left. False while waiting."""
        if self.paused or self.typing is not None or self.finished:
            return False
        if not self.queue:
            if self.end_pending:
                self.end_episode()
            self.generate()
        self.frame = self.queue.popleft()
        self.frames += 1
        self.shown_at.append(time.perf_counter())
        return True

    # --- input ----------------------------------------------------------------------------
    def handle_event(self, event):
        pg = self.pg
        if event.type == pg.QUIT:
            self.running = False
        elif event.type == pg.WINDOWFOCUSLOST and hasattr(self.agent, "release_all"):
            self.agent.release_all()  # its key-up events go to another window
        elif event.type == pg.TEXTINPUT and self.typing is not None:
            self.typing = (self.typing + event.text)[:MAX_COMMAND_LENGTH]
        elif event.type == pg.KEYUP and hasattr(self.agent, "release"):
            self.agent.release(pg.key.name(event.key))
        elif event.type == pg.KEYDOWN:
            key = pg.key.name(event.key)
            if self.typing is not None:
                self.edit(key)
            elif key in UI_KEYS:
                getattr(self, UI_KEYS[key])()
            elif hasattr(self.agent, "press") and self.agent.press(key):
                self.help_left = 0  # playing: the opening help has done its job

    def edit(self, key: str):
        if key in ("return", "enter"):
            self.send()
        elif key == "escape":
            self.close_box()
        elif key == "backspace":
            self.typing = self.typing[:-1]

    def open_box(self):
        self.typing = ""
        self.pg.key.start_text_input()

    def close_box(self):
        self.typing = None
        self.pg.key.stop_text_input()

    def send(self):
        if not hasattr(self.agent, "type"):
            self.toast("this agent takes no typed commands (play without --commands to type)", ERROR, TOAST_SECONDS)
            return self.close_box()
        try:
            self.agent.type(self.typing)
        except (TypeError, ValueError) as e:  # keep the box open so the player can fix it
            self.toast(str(e), ERROR, 4)
            return
        self.close_box()

    def toggle_pause(self):
        self.paused = not self.paused

    def new_start(self):
        self.start()
        self.toast(f"new start: context {self.info.get('start', '?')}", ACCENT, TOAST_SECONDS)

    def toggle_help(self):
        showing = self.help_pinned or self.help_left > 0
        self.help_pinned, self.help_left = not showing, 0

    def quit(self):
        self.running = False

    # --- files ----------------------------------------------------------------------------
    def new_path(self, suffix: str) -> Path:
        """tv2tv-play-<time>.png/.mp4 next to the video, or in the working directory."""
        folder = Path(self.video).parent if self.video else Path.cwd()
        stem = time.strftime("tv2tv-play-%Y%m%d-%H%M%S")
        path, n = folder / f"{stem}{suffix}", 2
        while path.exists():
            path, n = folder / f"{stem}-{n}{suffix}", n + 1
        return path

    def take_screenshot(self, path=None) -> Path:
        if path is None:
            path = Path(self.screenshot) if self.screenshot and not self.screenshots else self.new_path(".png")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.pg.image.save(self.screen, str(path))
        self.screenshots.append(path)
        print(f"screenshot: {path}", file=sys.stderr, flush=True)
        self.toast(f"screenshot saved: {path}", TEXT, TOAST_SECONDS)
        return path

    def start_recording(self, path: Path):
        import imageio

        path.parent.mkdir(parents=True, exist_ok=True)
        # macro_block_size=1: keep the window's exact size (the default rounds it to 16 pixels)
        self.writer = imageio.get_writer(path, fps=self.fps, macro_block_size=1, quality=8)
        self.videos.append(path)
        self.recorded_frames = 0
        print(f"recording: {path}", file=sys.stderr, flush=True)

    def stop_recording(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None
            print(f"recorded {self.recorded_frames} frames: {self.videos[-1]}", file=sys.stderr, flush=True)
            self.toast(f"video saved: {self.videos[-1]}", TEXT, TOAST_SECONDS)

    def toggle_recording(self):
        if self.writer is not None:
            self.stop_recording()
        else:
            self.start_recording(Path(self.video) if self.video and not self.videos else self.new_path(".mp4"))

    def record(self):
        if self.writer is not None:
            self.writer.append_data(np.ascontiguousarray(self.pg.surfarray.array3d(self.screen).swapaxes(0, 1)))
            self.recorded_frames += 1

    # --- drawing --------------------------------------------------------------------------
    def toast(self, text: str, colour=TEXT, seconds: float = TOAST_SECONDS):
        self.toasts = self.toasts[-2:] + [[text, colour, round(seconds * self.fps)]]  # counted down per frame

    def font(self, size: int):
        if size not in self.fonts:
            self.fonts[size] = self.pg.font.Font(None, size)
        return self.fonts[size]

    def put(self, text: str, pos, colour=TEXT, size: int = 22, anchor: str = "topleft"):
        image = self.font(size).render(text, True, colour)
        rect = image.get_rect(**{anchor: pos})
        self.screen.blit(image, rect)
        return rect

    def fit(self, text: str, size: int, width: int) -> str:
        """`text`, cut with '...' to fit `width` pixels."""
        font = self.font(size)
        if font.size(text)[0] <= width:
            return text
        while text and font.size(text + "...")[0] > width:
            text = text[:-1]
        return text + "..."

    def wrap(self, text: str, size: int, width: int, max_lines: int = 99) -> list[str]:
        font, lines, line = self.font(size), [], ""
        for word in text.split(" "):
            trial = f"{line} {word}" if line else word
            if font.size(trial)[0] <= width or not line:
                line = trial
            else:
                lines.append(line)
                line = word
        lines.append(line)
        if len(lines) > max_lines:
            lines = lines[:max_lines - 1] + [self.fit(" ".join(lines[max_lines - 1:]), size, width)]
        return [self.fit(l, size, width) for l in lines]

    def shade(self, rect, alpha: int = 190):
        veil = self.pg.Surface(rect.size, self.pg.SRCALPHA)
        veil.fill((0, 0, 0, alpha))
        self.screen.blit(veil, rect.topleft)

    def draw(self):
        self.screen.fill(BACKGROUND)
        self.draw_view()
        self.draw_panel()
        self.draw_bar()
        self.ticks += 1
        self.help_left = max(0, self.help_left - 1)
        for t in self.toasts:
            t[2] -= 1
        self.toasts = [t for t in self.toasts if t[2] > 0]

    def draw_view(self):
        pg = self.pg
        stage = self.stage  # overlays cover all of it; the game fills it at the default scale
        image = pg.surfarray.make_surface(np.ascontiguousarray(self.frame.swapaxes(0, 1)))
        game = pg.transform.scale(image, self.view)  # pg.transform.scale: nearest neighbour
        self.screen.blit(game, game.get_rect(center=stage.center))
        if self.help_pinned or self.help_left > 0:
            self.draw_help(stage)
        elif self.paused:
            self.shade(stage, 140)
            self.put("PAUSED", stage.center, TEXT, 72, "center")
            self.put("P to go on", (stage.centerx, stage.centery + 44), DIM, 26, "center")
        y = stage.bottom - 12
        for text, colour, _ in reversed(self.toasts):  # newest at the bottom, stacked upwards
            lines = self.wrap(text, 22, stage.width - 48, 5)
            box = pg.Rect(stage.x + 12, y - 10 - 20 * len(lines), stage.width - 24, 20 * len(lines) + 10)
            self.shade(box, 200)
            for i, line in enumerate(lines):
                self.put(line, (box.x + 12, box.y + 6 + 20 * i), colour)
            y = box.y - 6

    def draw_help(self, stage):
        self.shade(stage, 200)
        x, y, width = stage.x + 28, stage.y + 28, stage.width - 56
        self.put("How to play", (x, y), ACCENT, 40)
        y += 46
        for paragraph in HELP:
            for line in self.wrap(paragraph, 24, width):
                self.put(line, (x, y), TEXT, 24)
                y += 22
            y += 10
        self.put("H closes this help", (x, stage.bottom - 36), DIM, 22)

    def draw_panel(self):
        pg = self.pg
        panel = pg.Rect(self.stage.right, 0, PANEL_WIDTH, self.stage.height)
        pg.draw.rect(self.screen, PANEL, panel)
        x, width = panel.x + 20, PANEL_WIDTH - 40
        right = x + width
        self.put("TV2TV Gym", (x, 14), ACCENT, 34)
        if self.writer is not None:
            rect = self.put(f"REC {self.recorded_frames // self.fps // 60}:{self.recorded_frames // self.fps % 60:02d}",
                            (right, 20), RECORDING, 22, "topright")
            pg.draw.circle(self.screen, RECORDING, (rect.x - 10, rect.centery), 6)
        else:
            self.put(self.game, (right, 20), DIM, 22, "topright")

        y = self.heading("KEYS", x, 52)
        keymap = get_card(self.game).keys
        keys = bindings(self.game) if keymap else []
        row = 20 if len(keys) <= 10 else 17  # Crafter's table is long: tighter rows
        held = {keymap.get(k) for k in getattr(self.agent, "held", ())}
        for label, command in keys + [("no key", "the model decides")]:
            colour = THOUGHT if label == "no key" else TEXT
            if command in held:  # light up what the player holds: the next chunk's command
                pg.draw.rect(self.screen, BOX, (x - 6, y - 2, width + 12, row), border_radius=4)
                colour = ACCENT
            self.put(label, (x, y), DIM, row + 2)
            self.put(self.fit(command, row + 2, width - 104), (x + 104, y), colour, row + 2)
            y += row

        source, text, thought = self.now
        y = self.heading("NOW", x, y + 8, SOURCES.get(source, source), THOUGHT if thought else DIM)
        line = f"model thinks: {text or '(nothing)'}" if thought else (text or "(no text)")
        for part in self.wrap(line, 26, width, 2):
            self.put(part, (x, y), THOUGHT if thought else TEXT, 26)
            y += 22

        # counters from the bottom up; the history fills what is left between
        bottom = panel.bottom - 12
        per_step = np.mean(self.step_seconds) if self.step_seconds else 0.0
        shown = (len(self.shown_at) - 1) / (self.shown_at[-1] - self.shown_at[0]) if len(self.shown_at) > 2 else 0.0
        rate = self.env.unwrapped.world.frames_per_chunk / per_step if per_step else 0.0
        model = f"model {rate:.{0 if rate >= 10 else 1}f} frames/s" if per_step else "model: -"
        self.put(f"{shown:.1f} fps shown  |  {model}", (x, bottom), DIM, 20, "bottomleft")
        self.put(f"step {self.steps}  |  episode {self.episode}, step {self.episode_steps}  |  "
                 f"return {self.episode_return:+.2f}", (x, bottom - 20), DIM, 20, "bottomleft")
        stats_top = bottom - 44

        if y + 8 + 22 + 2 * 19 > stats_top:
            return  # a long key table (Crafter's) leaves no room for a useful history
        y = self.heading("RECENT", x, y + 8)
        for step, src, text, thought in self.history:
            if y + 19 > stats_top:
                break
            self.put(f"{step:>4}", (x + 30, y), DIM, 20, "topright")
            tag = "model" if thought else {"keys": "you", "typed": "you"}.get(src, src)
            self.put(tag, (x + 38, y), THOUGHT if thought else DIM, 20)
            self.put(self.fit(text or ("(nothing)" if thought else "(no text)"), 20, width - 90), (x + 90, y), THOUGHT if thought else TEXT, 20)
            y += 19

    def heading(self, title: str, x: int, y: int, note: str = "", note_colour=DIM) -> int:
        rect = self.put(title, (x, y), ACCENT, 20)
        if note:
            self.put(note, (rect.right + 10, y), note_colour, 20)
        return y + 22

    def draw_bar(self):
        pg = self.pg
        bar = pg.Rect(0, self.size[1] - BAR_HEIGHT, self.size[0], BAR_HEIGHT)
        box = bar.inflate(-16, -12)
        typing = self.typing is not None
        pg.draw.rect(self.screen, BOX, box, border_radius=6)
        pg.draw.rect(self.screen, ACCENT if typing else (70, 70, 80), box, 2, border_radius=6)
        x, mid = box.x + 12, box.centery
        if typing:
            hint = "Enter sends  |  Esc cancels  |  the world waits"
            hint_rect = self.put(hint, (box.right - 12, mid), DIM, 22, "midright")
            cursor = "_" if self.ticks // 8 % 2 == 0 else " "
            room = hint_rect.x - x - 24
            shown = self.typing
            while shown and self.font(24).size("> " + shown + "_")[0] > room:
                shown = shown[1:]  # long commands scroll: the end, being typed, stays in view
            self.put(f"> {shown}{cursor}", (x, mid), TEXT, 24, "midleft")
            return
        held = getattr(self.agent, "typed", None)
        if held:
            hint = "a game key or T ends it"
            hint_rect = self.put(hint, (box.right - 12, mid), DIM, 22, "midright")
            rect = self.put("holding:", (x, mid), ACCENT, 24, "midleft")
            self.put(self.fit(held, 24, hint_rect.x - rect.right - 30), (rect.right + 8, mid), TEXT, 24, "midleft")
            return
        self.put("T or Enter: type a command, e.g. \"turn around and run\"", (x, mid), DIM, 22, "midleft")
        self.put("H help  P pause  R reset  V rec  F2 shot  Esc quit", (box.right - 12, mid), DIM, 22, "midright")


def play(env, agent: TextAgent | None = None, steps: int | None = None, headless: bool = False, video=None,
         screenshot=None, scale: int = 8, seed: int | None = 0, commands=None) -> dict:
    """Play `env` in a window (or headless) until quit or `steps` env steps; returns a summary.

    Without `agent`: the keyboard (in a window), or the `commands` script, or (headless) the
    built-in demo script. Headless play never waits, so it runs as fast as the model.
    """
    if headless:
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # before pygame's display starts
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # stdout carries the JSON summary
    import pygame

    if agent is None:
        if commands is not None:
            agent = ScriptedAgent.from_file(commands)
        elif headless:
            agent = ScriptedAgent(parse_script(DEMO_SCRIPT), loop=True)
        else:
            agent = KeyboardAgent.for_env(env)
    if headless and steps is None:
        steps = HEADLESS_STEPS
    session = Play(env, agent, scale, steps, video, screenshot)
    clock = pygame.time.Clock()
    t0 = time.perf_counter()
    try:
        if video is not None:
            session.start_recording(Path(video))
        session.start(seed)
        while session.running and not session.finished:
            for event in pygame.event.get():
                session.handle_event(event)
            if not session.running:
                break
            session.advance()
            session.draw()
            pygame.display.flip()
            session.record()
            if not headless:
                clock.tick(session.fps)  # real time: the game's frame rate
        if headless and screenshot is not None and not session.screenshots:
            session.take_screenshot(screenshot)
    finally:
        session.stop_recording()
        pygame.display.quit()
    seconds = time.perf_counter() - t0
    generated = session.steps * env.unwrapped.world.frames_per_chunk
    return {"steps": session.steps, "frames": session.frames, "episodes_finished": session.finished_episodes,
            "model_thought_steps": session.thoughts, "seconds": round(seconds, 2),
            "generated_frames_per_s": round(generated / session.model_seconds, 1) if session.model_seconds else 0.0,
            "shown_frames_per_s": round(session.frames / seconds, 1) if seconds else 0.0,
            "video": str(session.videos[-1]) if session.videos else None,
            "screenshot": str(session.screenshots[-1]) if session.screenshots else None}


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--game", default=DEFAULT_GAME, choices=list(CARDS))
    p.add_argument("--checkpoint", default=None, help="checkpoint or run directory (default: the shipped model)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda")
    p.add_argument("--seed", type=int, default=0, help="seed of the first reset (start context and noise)")
    p.add_argument("--scale", type=int, default=8, help="screen pixels per game pixel (default 8: 512x512)")
    p.add_argument("--steps", type=int, default=None,
                   help=f"stop after N steps of 4 frames (default: until you quit; headless: {HEADLESS_STEPS})")
    p.add_argument("--headless", action="store_true", help="no window: a command script plays, frames go to --video")
    p.add_argument("--commands", default=None, help="command script (format: agents/scripted.py); default "
                   "headless: a built-in demo")
    p.add_argument("--video", default=None, help="record the window to this mp4 from the start (V toggles)")
    p.add_argument("--screenshot", default=None, help="where the first screenshot goes (headless: the last frame)")
    return p


def run(args) -> int:
    import gymnasium as gym

    import tv2tv_env  # noqa: F401  (registers the envs)

    if args.scale < 1:
        raise UserError(f"--scale {args.scale}: use a whole number of screen pixels per game pixel, 1 or more")
    if args.steps is not None and args.steps < 1:
        raise UserError(f"--steps {args.steps}: play at least one step")
    agent = None
    if args.commands is not None:
        try:
            agent = ScriptedAgent.from_file(args.commands)
        except (FileNotFoundError, ValueError) as e:
            raise UserError(str(e)) from None
    env = gym.make(env_id(args.game), checkpoint=args.checkpoint, device=args.device)
    try:
        summary = play(env, agent, args.steps, args.headless, args.video, args.screenshot, args.scale, args.seed)
    finally:
        env.close()
    print(json.dumps(summary))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m agents.play", description=__doc__.split("\n\n")[0],
                                epilog="Keys: hold the game keys listed in the window; T or Enter types a command, "
                                "P pauses, R restarts, V records, F2 takes a screenshot, H helps, Esc quits.")
    args = add_arguments(p).parse_args(argv)
    try:
        return run(args)
    except UserError as e:
        print(f"{p.prog}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
