"""The ready configs that ship with diffrec-tui, found by name from any folder.

In the source tree they are the top-level `configs/` folder; the wheel carries the same
files as package data (`diffrec_tui/configs/`, see pyproject.toml), so an installed
diffrec-tui needs no checkout. A config argument that names no file in the current
directory but a shipped config (`default`, `default.yaml`, `configs/default.yaml`) means
the shipped one; a file of that name in the current directory always wins.
`diffrec-tui --configs` lists them.
"""
from __future__ import annotations

from pathlib import Path

from engine.errors import ExitCode

DEFAULT = "default.yaml"


def folder() -> Path:
    pkg = Path(__file__).resolve().parent
    inside = pkg / "configs"  # an installed wheel: package data
    return inside if inside.is_dir() else pkg.parent / "configs"  # a source checkout (pip install -e .)


def default() -> Path:
    return folder() / DEFAULT


def names() -> list[str]:
    return sorted(p.name for p in folder().glob("*.yaml"))


def resolve(text: str) -> Path:
    """The config file a user means: the path if it exists (made absolute), else the
    shipped config of that name, else the path as given (the loader says it is missing)."""
    path = Path(text).expanduser()
    if path.exists():
        return path.resolve()
    if path.parent in (Path("."), Path("configs")):
        for name in (path.name, path.name + ".yaml"):
            if (folder() / name).is_file():
                return folder() / name
    return path


def summary(path: Path) -> str:
    """The first comment line of a config file: what it is."""
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("#"):
                    return line.lstrip("#").strip()
                if line.strip():
                    break
    except OSError:
        pass
    return ""


def main(args) -> int:
    """`diffrec-tui --configs`: every shipped config, where it lives and what it is."""
    print(f"ready configs in {folder()} (use the name, e.g. diffrec-tui --run default):")
    width = max(len(n) for n in names())
    for name in names():
        print(f"  {name:<{width}}  {summary(folder() / name)}")
    return ExitCode.OK
