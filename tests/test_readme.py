"""The README and docs/ stay true: cheap checks (no model, no training) of what they show a user.

What they check: the README is a short guide whose first commands are the set-up ones CI runs;
every `tv2tv` command and flag it shows exists in the parser; every subcommand is in its table
and in `tv2tv --help`; every relative link and image (README.md and docs/*.md) exists inside the
repository, anchors included; every TV2TV env id is registered; its Python snippets parse and
import names that exist.
"""
from __future__ import annotations

import ast
import importlib
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOC_PAGES = sorted((ROOT / "docs").glob("*.md"))
MAX_README_LINES = 250

SETUP_COMMANDS = [
    "bash scripts/setup.sh && .venv/bin/tv2tv demo",
    "bash scripts/setup.sh && .venv/bin/python -m pytest -q",
]


def fenced_blocks(text: str, lang: str | None = None) -> list[str]:
    """The bodies of ``` blocks, in order (only those of language `lang` when given)."""
    blocks = re.findall(r"^[ \t]*```([\w+-]*)\n(.*?)^[ \t]*```", text, flags=re.M | re.S)  # indented in lists too
    return [body for block_lang, body in blocks if lang is None or block_lang == lang]


def shell_lines(block: str) -> list[str]:
    """A shell block's commands, continuation lines (`\\`) joined."""
    return [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def tv2tv_commands(text: str) -> list[list[str]]:
    """Every `tv2tv ...` command shown: shell lines of bash blocks and inline code spans.

    Returned as tokens starting at the subcommand, e.g. ["train", "--data", "DIR", ...];
    `python -m tv2tv_cli X` and `.venv/bin/tv2tv X` count too."""
    candidates = []
    for block in fenced_blocks(text, "bash"):
        candidates += shell_lines(block)
    prose = re.sub(r"^[ \t]*```.*?^[ \t]*```", "", text, flags=re.M | re.S)
    candidates += [span.replace("\n", " ") for span in re.findall(r"`([^`]+)`", prose)]
    commands = []
    for line in candidates:
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:  # prose in a code span, e.g. an unmatched quote: not a command
            continue
        for i, token in enumerate(tokens[:-1]):
            is_entry = token == "tv2tv" or token.endswith("/tv2tv") or (token == "tv2tv_cli" and tokens[i - 1] == "-m")
            name = tokens[i + 1]
            if is_entry and not name.startswith("-") and not name.isupper():  # COMMAND, X: placeholders
                commands.append(tokens[i + 1:])
                break
    return commands


def flags_of(tokens: list[str]) -> set[str]:
    """The --flags among a command's tokens ("[--seed S]", "--cache=rolling", "--height/--width")."""
    flags = set()
    for token in tokens:
        if " " in token:  # a quoted argument, e.g. --bench-args "--off-topic-steps 100": not this command's
            continue
        for part in token.strip("[]()").split("/"):
            if part.startswith("--") and len(part) > 2:
                flags.add(part.split("=")[0].rstrip(".,;:"))
    return flags


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors_of(page: Path) -> set[str]:
    text = re.sub(r"^[ \t]*```.*?^[ \t]*```", "", page.read_text(), flags=re.M | re.S)  # no headings inside code
    return {github_slug(h) for h in re.findall(r"^#{1,6}\s+(.+)$", text, flags=re.M)}


@pytest.fixture(scope="module")
def parser():
    from tv2tv_cli import build_parser

    return build_parser()


@pytest.fixture(scope="module")
def subparsers(parser):
    (action,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return action


def test_readme_is_a_short_guide():
    n_lines = len(README.read_text().splitlines())
    assert n_lines <= MAX_README_LINES, f"README.md has {n_lines} lines: move detail to docs/"


def test_first_commands_are_the_setup_commands_and_ci_runs_the_test_one():
    text = README.read_text()
    first_block = fenced_blocks(text)[0]
    assert text.index("```") < text.index(first_block), "the set-up block must be the first code in the README"
    commands = [re.sub(r"\s+#.*$", "", line) for line in shell_lines(first_block)]
    assert commands[:2] == SETUP_COMMANDS
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert SETUP_COMMANDS[1] in ci_lines, ".ci/run must run exactly the README's test command"


def test_every_tv2tv_command_and_flag_shown_exists(subparsers):
    shown = tv2tv_commands(README.read_text())
    assert len(shown) >= 10  # the extraction itself works
    for page in [README] + DOC_PAGES:
        for tokens in tv2tv_commands(page.read_text()):
            name = tokens[0]
            assert name in subparsers.choices, f"{page.name}: `tv2tv {name}` is not a subcommand"
            known = set(subparsers.choices[name]._option_string_actions)
            unknown = flags_of(tokens[1:]) - known
            assert not unknown, f"{page.name}: `tv2tv {name}` has no {sorted(unknown)}: {' '.join(tokens)}"


def test_readme_table_lists_every_subcommand(subparsers):
    rows = re.findall(r"^\| `tv2tv ([\w-]+)` \|", README.read_text(), flags=re.M)
    assert sorted(rows) == sorted(subparsers.choices), "the README's command table and the parser differ"


def test_help_lists_every_subcommand_with_a_short_line(parser, subparsers):
    help_text = "".join(parser.format_help().split())  # no whitespace: argparse wraps lines, even at hyphens
    for choice in subparsers._choices_actions:
        assert choice.help and "\n" not in choice.help, f"{choice.dest}: empty or multi-line help"
        assert len(choice.help) <= 100, f"{choice.dest}: help longer than 100 characters"
        assert choice.dest + "".join(choice.help.split()) in help_text, f"{choice.dest} is not in `tv2tv --help`"
    assert {c.dest for c in subparsers._choices_actions} == set(subparsers.choices)


def test_python_m_tv2tv_cli_help_runs():
    out = subprocess.run([sys.executable, "-m", "tv2tv_cli", "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "build-world" in out.stdout and "rl-transfer" in out.stdout


@pytest.mark.parametrize("page", [README] + DOC_PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_and_images_exist(page):
    text = re.sub(r"^[ \t]*```.*?^[ \t]*```", "", page.read_text(), flags=re.M | re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target):  # https://..., mailto:
            continue
        path_part, _, anchor = target.partition("#")
        path = (page.parent / path_part).resolve() if path_part else page
        assert path.is_relative_to(ROOT), f"{page.name}: {target} points outside the repository"
        assert path.exists(), f"{page.name}: {target} does not exist"
        if anchor and path.suffix == ".md":
            assert anchor in anchors_of(path), f"{page.name}: {target}: no such heading"


def test_env_ids_shown_are_registered():
    import gymnasium as gym

    import tv2tv_env  # noqa: F401  (registers the ids)

    for page in [README] + DOC_PAGES:
        for env_id in set(re.findall(r"TV2TV/[A-Za-z]+-v\d+", page.read_text())):
            assert env_id in gym.registry, f"{page.name}: {env_id} is not registered by `import tv2tv_env`"


def test_readme_python_snippets_parse_and_their_imports_exist():
    snippets = fenced_blocks(README.read_text(), "python")
    assert snippets
    for snippet in snippets:
        tree = ast.parse(snippet)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    importlib.import_module(alias.name)
            elif isinstance(node, ast.ImportFrom):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{node.module} has no {alias.name}"


def test_the_checks_catch_what_they_should():
    """The helpers above find what a stale README would hold (so the tests can fail)."""
    text = "```bash\ntv2tv train --data D \\\n  --no-such-flag 3   # comment --not-a-flag\n```\nsee `tv2tv bench --cache rolling`"
    assert tv2tv_commands(text) == [["train", "--data", "D", "--no-such-flag", "3"], ["bench", "--cache", "rolling"]]
    assert flags_of(["--bench-args", "--off-topic-steps 100", "[--seed", "S]", "--height/--width"]) == {
        "--bench-args", "--seed", "--height", "--width"}
    assert github_slug("One command from a game to a world (`tv2tv build-world`)") == \
        "one-command-from-a-game-to-a-world-tv2tv-build-world"
