"""The layout shows the flow: imports run only downward, layer by layer, and never in a circle.

Bottom to top: model/ (tensors and token streams) <- errors and commands (and the spaces made
of them) <- training/ (the one training loop) <- games/ (cards and engines) <- paraphrase (the
language prior's words) <- data/ (recordings, latents, training windows) <- the world and what it
draws (world, conditioning, render, strip) <- distillation, which trains against a loaded world
<- the Gymnasium envs <- bench/ <- agents/ <- tv2tv_cli/ (the top floor, the one place that wires
data to training). Every import counts, those inside functions too: a lazy import upward is
still an upward one.
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("model", "tv2tv_env", "agents", "tv2tv_cli")
LAYERS = [  # prefixes, lowest first; a module belongs to the layer of its longest matching prefix
    ["model"],
    ["tv2tv_env.errors", "tv2tv_env.commands", "tv2tv_env.spaces"],
    ["tv2tv_env.training"],  # the loop: model and errors only (bench/judge.py trains with it)
    ["tv2tv_env.games"],
    ["tv2tv_env.paraphrase"],
    ["tv2tv_env.data"],
    ["tv2tv_env.world", "tv2tv_env.conditioning", "tv2tv_env.render", "tv2tv_env.strip"],
    ["tv2tv_env.training.distill"],  # trains a student against a loaded WorldModel
    ["tv2tv_env.training.tiny_decoder",  # reads recorded frames and their cached latents
     "tv2tv_env.training.action_reader"],  # reads cached latents as training windows
    ["tv2tv_env", "tv2tv_env.env", "tv2tv_env.vector_env", "tv2tv_env.wrappers", "tv2tv_env.real_env"],
    ["tv2tv_env.bench"],
    ["agents"],
    ["tv2tv_cli"],
]
# Modules a user imports to play the real engine or read a game: they must not load torch
# (seconds of start-up and hundreds of MB for nothing).
LIGHT_MODULES = ["tv2tv_env", "tv2tv_env.real_env", "tv2tv_env.spaces", "tv2tv_env.commands",
                 *sorted(f"tv2tv_env.games.{p.stem}" for p in (ROOT / "tv2tv_env" / "games").glob("*_card.py"))]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def imports_of(name: str, path: Path, known) -> set[str]:
    """Project modules `name` imports, relative imports resolved; `from P import m` names module P.m
    when m is one."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:  # `import model.vae.x` -> the module that exists
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def layer(name: str) -> int:
    best = max(((len(p), i) for i, prefixes in enumerate(LAYERS) for p in prefixes
                if name == p or name.startswith(p + ".")), default=None)
    assert best is not None, f"{name} is in no layer of tests/test_layout.py; place it there"
    return best[1]


def graph():
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles_of(g: dict[str, set[str]]) -> list[str]:
    """Every cycle a depth-first walk of `g` meets, as "a -> b -> a"."""
    state, cycles = {}, []

    def visit(m, stack):
        state[m] = "open"
        for t in sorted(g.get(m, ())):
            if state.get(t) == "open":
                cycles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                visit(t, stack + [t])
        state[m] = "done"

    for m in sorted(g):
        if m not in state:
            visit(m, [m])
    return cycles


def collapsed(g: dict[str, set[str]], unit) -> dict[str, set[str]]:
    """The import graph between units (`unit(module)`: its package, ...), self-imports dropped."""
    out = {}
    for m, targets in g.items():
        out.setdefault(unit(m), set()).update(unit(t) for t in targets if unit(t) != unit(m))
    return out


def top_package(m: str) -> str:
    return m.split(".")[0]


def subpackage(m: str) -> str:
    """The package a module sits in (tv2tv_env.games.doom -> tv2tv_env.games); a module right
    under a top package is its own unit, since the top package's __init__ imports its subpackages."""
    package = m if (ROOT / Path(*m.split(".")) / "__init__.py").is_file() else m.rpartition(".")[0]
    return package if "." in package else m


def test_imports_run_only_downward():
    upward = [f"{m} (layer {layer(m)}) imports {t} (layer {layer(t)})"
              for m, targets in graph().items() for t in sorted(targets) if layer(t) > layer(m)]
    assert not upward, "\n".join(upward)


def test_no_import_cycle_between_modules():
    cycles = cycles_of(graph())
    assert not cycles, "\n".join(cycles)


def test_no_import_cycle_between_packages_or_subpackages():
    g = graph()
    for unit in (top_package, subpackage):
        cycles = cycles_of(collapsed(g, unit))
        assert not cycles, f"{unit.__name__}:\n" + "\n".join(cycles)


def test_the_cycle_checks_can_fail():
    """The checks above find what they look for: a made-up graph with a cycle two packages deep."""
    g = {"tv2tv_env.games.doom": {"tv2tv_env.data.record"}, "tv2tv_env.data.record": {"tv2tv_env.games"},
         "tv2tv_env.games": set()}
    assert not cycles_of(g)
    assert cycles_of(collapsed(g, subpackage)) == ["tv2tv_env.data -> tv2tv_env.games -> tv2tv_env.data"]
    assert cycles_of(collapsed({"model.x": {"agents.y"}, "agents.y": {"model.z"}}, top_package))


def test_the_model_knows_no_game_and_no_file_of_recordings():
    for m, targets in graph().items():
        if top_package(m) == "model":
            assert all(top_package(t) == "model" for t in targets), (m, targets)


@pytest.mark.parametrize("module", LIGHT_MODULES)
def test_light_modules_import_without_torch(module):
    code = (f"import sys, {module}; "
            "print(sorted({'torch', 'diffusers', 'transformers'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"`import {module}` loads {out.stdout.strip()}"


MAX_FUNCTION_LINES = 80
LONG_ON_PURPOSE = "# long on purpose:"  # a comment on a function's first line that says why it may be longer


def long_functions(source: str, name: str) -> list[str]:
    lines = source.splitlines()
    return [f"{name}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)"
            for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES and LONG_ON_PURPOSE not in lines[n.lineno - 1]]


def test_no_function_is_longer_than_a_page():
    """A function a newcomer reads in one go: at most 80 lines (scripts/ and the packages; not tests)."""
    paths = [p for pkg in (*PACKAGES, "scripts") for p in (ROOT / pkg).rglob("*.py")]
    long = [x for p in paths for x in long_functions(p.read_text(), str(p.relative_to(ROOT)))]
    assert not long, "\n".join(long)
    body = "\n".join(f"    x = {i}" for i in range(MAX_FUNCTION_LINES))
    assert long_functions(f"def f():\n{body}\n", "t.py") == ["t.py:1 f (81 lines)"]  # the check can fail
    assert not long_functions(f"def f():  {LONG_ON_PURPOSE} a table\n{body}\n", "t.py")
