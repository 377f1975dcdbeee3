"""The layout shows the flow: imports run only downward, layer by layer, and never in a circle.

Bottom to top: model/ (tensors and token streams) <- errors and commands <- games/ (cards and
engines) <- paraphrase (the language prior's words) <- data/ (recordings, latents, training
windows) <- the world and what it draws (world, conditioning, render, strip) <- the Gymnasium
envs <- bench/ <- agents/ <- cli/ (the top floor, the one place that wires data to training).
Every import counts, those inside functions too: a lazy import upward is still an upward one.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("model", "tv2tv_env", "agents")
LAYERS = [  # prefixes, lowest first; a module belongs to the layer of its longest matching prefix
    ["model"],
    ["tv2tv_env.errors", "tv2tv_env.commands"],
    ["tv2tv_env.games"],
    ["tv2tv_env.paraphrase"],
    ["tv2tv_env.data"],
    ["tv2tv_env.world", "tv2tv_env.conditioning", "tv2tv_env.render", "tv2tv_env.strip"],
    ["tv2tv_env", "tv2tv_env.env", "tv2tv_env.vector_env", "tv2tv_env.wrappers", "tv2tv_env.real_env"],
    ["tv2tv_env.bench"],
    ["agents"],
    ["tv2tv_env.cli"],
]


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


def test_imports_run_only_downward():
    upward = [f"{m} (layer {layer(m)}) imports {t} (layer {layer(t)})"
              for m, targets in graph().items() for t in sorted(targets) if layer(t) > layer(m)]
    assert not upward, "\n".join(upward)


def test_no_import_cycle():
    g, state, cycles = graph(), {}, []

    def visit(m, stack):
        state[m] = "open"
        for t in sorted(g[m]):
            if state.get(t) == "open":
                cycles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                visit(t, stack + [t])
        state[m] = "done"

    for m in sorted(g):
        if m not in state:
            visit(m, [m])
    assert not cycles, "\n".join(cycles)


def test_the_model_knows_no_game_and_no_file_of_recordings():
    for m, targets in graph().items():
        if m.split(".")[0] == "model":
            assert all(t.split(".")[0] == "model" for t in targets), (m, targets)
