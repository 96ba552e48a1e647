"""The architecture's rules, checked on the source (docs/architecture.md describes them):
the engine's layers import only downwards, no module imports itself back through others,
modules and functions stay small, and the UI never spells a run- or sweep-directory file name."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(REPO / "engine").rglob("*.py"), *(REPO / "diffrec_tui").rglob("*.py")])

# Engine layers and what each may import besides itself and the foundations (engine.errors,
# engine.untrusted, which import nothing of ours but errors). Lazy imports count too.
FOUNDATIONS = {"errors", "untrusted"}
LAYERS = {
    "analysis": set(),  # pure statistics over arrays (numpy, scipy): nothing of ours
    "config": set(),
    "data": {"config"},
    "models": {"config", "data"},
    "search": {"config"},
    "records": {"analysis", "config", "search"},
    "training": {"config", "data", "models", "records"},
    "inspection": {"config", "data", "models", "records", "training"},
    "processes": {"analysis", "config", "data", "models", "records", "search", "training"},
}

MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 50

RECORD_FILES = ("config.yaml", "events.jsonl", "checkpoint.pt", "resume.pt", "summary.json", "worker.log",
                "worker.json", "tokens.json", "sweep.yaml", "state.json", "results.csv", "results.jsonl",
                "best.yaml", "sweep.log", "workers.log", "per_user_test.npz", "compare.json", "summary.csv", "notes.json")
# a file name on its own (not the tail of a user's path like configs/my_config.yaml)
RECORD_NAME = re.compile(r"(?<![\w/.-])(" + "|".join(map(re.escape, RECORD_FILES)) + r")\b")


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def is_module(name: str) -> bool:
    p = REPO.joinpath(*name.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


def imported(path: Path, top_level_only: bool) -> set[str]:
    """Our modules (engine.*, diffrec_tui.*) that `path` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:  # `from engine.config import schema` imports the module schema
                full = f"{node.module}.{a.name}"
                out.add(full if is_module(full) else node.module)
    return {m for m in out if m.split(".")[0] in ("engine", "diffrec_tui")}


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "engine" and len(parts) > 1 else None


@pytest.mark.parametrize("path", sorted((REPO / "engine").rglob("*.py")), ids=module_name)
def test_engine_layers_import_only_downwards(path):
    own = layer(module_name(path))
    allowed = LAYERS.get(own, set()) | FOUNDATIONS | {own}
    if own in FOUNDATIONS:
        allowed = {"errors", own}
    bad = sorted(m for m in imported(path, top_level_only=False) if layer(m) and layer(m) not in allowed)
    assert bad == [], f"{module_name(path)} ({own}) may import {sorted(allowed)} only"


def test_every_engine_module_is_in_a_layer():
    for path in (REPO / "engine").rglob("*.py"):
        name = module_name(path)
        if name != "engine":
            assert layer(name) in LAYERS or layer(name) in FOUNDATIONS, name


def test_no_import_cycles():
    graph = {module_name(p): imported(p, top_level_only=True) for p in SOURCES}
    done, path = set(), []

    def visit(m):
        if m in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(m):] + [m]))
        if m in done or m not in graph:
            return
        path.append(m)
        for dep in sorted(graph[m]):
            # importing a.b.c runs a and a.b first; a package's own __init__ is not a cycle
            visit(dep)
        path.pop()
        done.add(m)

    for m in sorted(graph):
        visit(m)


@pytest.mark.parametrize("path", SOURCES,
                         ids=lambda p: str(p.relative_to(REPO)))
def test_modules_and_functions_stay_small(path):
    src = path.read_text(encoding="utf-8")
    assert src.count("\n") <= MAX_MODULE_LINES, f"{path.name}: {src.count(chr(10))} lines"
    long = [f"{n.name} ({n.end_lineno - n.lineno + 1} lines)" for n in ast.walk(ast.parse(src))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


UI_SOURCES = list((REPO / "diffrec_tui").rglob("*.py"))


@pytest.mark.parametrize("path", UI_SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_the_ui_never_spells_a_record_file_name(path):
    # engine.records is the only code that knows the run and sweep directories' files
    found = [(i, m.group(1)) for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             for m in RECORD_NAME.finditer(line)]
    assert found == [], "use RunDir / SweepDir properties"


def test_the_file_name_check_would_see_one():
    assert RECORD_NAME.search('run.path / "config.yaml"') and RECORD_NAME.search("see worker.log")
    assert not RECORD_NAME.search('"configs/my_config.yaml"') and not RECORD_NAME.search("path/to/config.yaml")
