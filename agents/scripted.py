"""Scripted agent: timed commands from a file, for demos, tests and reproducible sessions.

File format, one command per line (`#` starts a comment, blank lines are skipped):

    0   turn left          # from step 0 on, send "turn left"
    4   shoot
    6   -                  # "-" sends "" (the model decides what happens)
    10  move forward

A line that starts with a step number holds its command until the next numbered line.
Lines without numbers are one step each, in order. After the last line the last command
holds (or, with `loop=True`, the script starts over).

    python -m agents.scripted --commands FILE [--steps N] [--video OUT.mp4] [--checkpoint RUN]
"""
from __future__ import annotations

import re
from pathlib import Path

from .base import TextAgent

_NUMBERED = re.compile(r"^(\d+)\s+(.*)$")


def parse_script(text: str) -> list[tuple[int, str]]:
    """-> [(first_step, command)], sorted by step. Raises ValueError naming the bad line."""
    timed, step, numbered = [], 0, None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = _NUMBERED.match(line)
        if numbered is None:
            numbered = bool(m)
        if bool(m) != numbered:
            raise ValueError(f"line {n} ({raw.strip()!r}): either every line starts with a step number or none does")
        if m:
            at, command = int(m.group(1)), m.group(2).strip()
            if timed and at <= timed[-1][0]:
                raise ValueError(f"line {n} ({raw.strip()!r}): step {at} is not after step {timed[-1][0]}")
        else:
            at, command = step, line
            step += 1
        timed.append((at, "" if command == "-" else command))
    if not timed:
        raise ValueError("the command script is empty")
    return timed


class ScriptedAgent(TextAgent):
    def __init__(self, script: list[tuple[int, str]], loop: bool = False):
        self.script, self.loop = script, loop
        self.t = 0

    @classmethod
    def from_file(cls, path, loop: bool = False) -> "ScriptedAgent":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no command script at {path} (see agents/scripted.py for the format)")
        try:
            return cls(parse_script(path.read_text()), loop)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    @property
    def length(self) -> int:
        """Steps the script covers (its last command counts once)."""
        return self.script[-1][0] + 1

    def command_at(self, t: int) -> str:
        if self.loop:
            t %= self.length
        current = self.script[0][1]
        for at, command in self.script:
            if at > t:
                break
            current = command
        return current

    def reset(self, obs=None, info=None):
        self.t = 0

    def act(self, obs=None, info=None) -> str:
        command = self.command_at(self.t)
        self.t += 1
        return command


if __name__ == "__main__":
    from .runner import main

    def add_arguments(p):
        p.add_argument("--commands", required=True, help="command script (format: agents/scripted.py)")
        p.add_argument("--loop", action="store_true", help="start the script over when it ends")

    main("scripted", lambda a: ScriptedAgent.from_file(a.commands, a.loop), add_arguments)
