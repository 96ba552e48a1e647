"""A run's events.jsonl: append one JSON object a line (flushed, so a reader never waits), read
them back, follow new ones as they are written; a partial last line (a killed writer) is
ignored, not fatal."""
from __future__ import annotations

import json
import os
from pathlib import Path


def append_line(path: Path, line: str) -> None:
    """Append one line, flushed, always at a line boundary: a partial last line (a killed
    writer's) is closed first, so it stays one unreadable line instead of eating this one."""
    data = (line + "\n").encode("utf-8")
    with open(path, "a+b") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell():
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                data = b"\n" + data
        fh.write(data)
        fh.flush()


def read_events(path: str | Path) -> list[dict]:
    """All complete events; a partial or corrupt line (a killed writer) is skipped."""
    try:
        text = Path(path).read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return []
    return [ev for ev in map(_parse, text.split("\n")) if ev is not None]


def _parse(line: str) -> dict | None:
    line = line.strip()
    if not line:
        return None
    try:
        ev = json.loads(line)
    except ValueError:
        return None
    return ev if isinstance(ev, dict) and "type" in ev else None


class EventFollower:
    """Reads new events from a growing events.jsonl, one `poll()` at a time."""

    def __init__(self, path: str | Path, offset: int = 0):
        self.path = Path(path)
        self.offset = offset

    def poll(self) -> list[dict]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except OSError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []  # only a partial line so far
        self.offset += end + 1
        lines = chunk[: end + 1].decode("utf-8", errors="replace").split("\n")
        return [ev for ev in map(_parse, lines) if ev is not None]
