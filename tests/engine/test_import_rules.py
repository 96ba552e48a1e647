"""Layering: the engine never imports the UI; the CLI and app never import torch at start-up."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ENGINE_MODULES = sorted(".".join(p.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
                        for p in (REPO_ROOT / "engine").rglob("*.py"))

CHECK = """
import importlib, sys
for name in {modules!r}:
    importlib.import_module(name)
bad = sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r})
print(','.join(bad))
"""


def imported(python_code, modules, forbidden) -> list[str]:
    res = python_code(CHECK.format(modules=modules, forbidden=forbidden))
    assert res.returncode == 0, res.stderr
    return [m for m in res.stdout.strip().split(",") if m]


def test_import_engine_loads_no_ui(python_code):
    assert imported(python_code, ["engine"], ("textual", "diffrec_tui")) == []


def test_every_engine_module_loads_no_ui(python_code):
    assert "engine.training.trainer" in ENGINE_MODULES and "engine.records.runs" in ENGINE_MODULES
    assert imported(python_code, ENGINE_MODULES, ("textual", "diffrec_tui", "textual_plotext", "plotext")) == []


@pytest.mark.parametrize("module", ["engine.config.schema", "engine.records.runs", "engine.models.schedule", "engine.errors"])
def test_light_engine_modules_do_not_import_torch(python_code, module):
    # The CLI and the app's config editor use these without paying for torch.
    assert imported(python_code, [module], ("torch",)) == []


def test_cli_does_not_import_torch(python_code):
    assert imported(python_code, ["diffrec_tui.cli", "diffrec_tui.headless.report"], ("torch",)) == []


def top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:  # module level only: lazy imports inside functions are allowed
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def all_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "engine").rglob("*.py")), ids=lambda p: p.name)
def test_engine_source_never_imports_the_ui(path):
    # Also catches imports inside functions, which an import-time check would miss.
    assert not all_imports(path) & {"textual", "textual_plotext", "plotext", "diffrec_tui"}


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "diffrec_tui").rglob("*.py")),
                         ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_ui_source_imports_torch_only_lazily(path):
    assert "torch" not in top_level_imports(path)
