"""A run's name and note, set by the user (the Runs screen): `notes.json` in the run
directory, `{"name": str, "note": str}`. Read back like any input from a run directory:
a missing, oversized, malformed or wrongly typed file reads as no name and no note."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InputError

NOTES_FILE = "notes.json"
MAX_NAME, MAX_NOTE = 80, 2000  # characters; a longer one is refused when set
MAX_BYTES = 64 * 1024  # a notes file larger than this is not one we wrote


@dataclass(frozen=True)
class Notes:
    name: str = ""
    note: str = ""


def read_notes(run_dir: str | Path) -> Notes:
    path = Path(run_dir) / NOTES_FILE
    try:
        if path.stat().st_size > MAX_BYTES:
            return Notes()
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Notes()
    if not isinstance(data, dict):
        return Notes()
    name, note = data.get("name", ""), data.get("note", "")
    if not isinstance(name, str) or not isinstance(note, str):
        return Notes()
    return Notes(_one_line(name)[:MAX_NAME], note[:MAX_NOTE])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def write_notes(run_dir: str | Path, name: str, note: str) -> Notes:
    """Set the run's name and note (empty strings clear them); written atomically.
    Raises InputError for a name or note too long, or a path that is not a run directory."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: not a run directory")
    name, note = _one_line(name), note.strip()
    if len(name) > MAX_NAME:
        raise InputError(f"run name: {len(name)} characters, at most {MAX_NAME}")
    if len(note) > MAX_NOTE:
        raise InputError(f"run note: {len(note)} characters, at most {MAX_NOTE}")
    tmp = run_dir / (NOTES_FILE + ".tmp")
    tmp.write_text(json.dumps({"name": name, "note": note}, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, run_dir / NOTES_FILE)
    return Notes(name, note)
