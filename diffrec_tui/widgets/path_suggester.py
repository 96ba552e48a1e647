"""Completion for path fields (open, save as): Textual's Input shows the suggestion after
the cursor and the right arrow (or end) takes it, as a shell's tab would."""
from __future__ import annotations

import os
from pathlib import Path

from textual.suggester import Suggester

MAX_ENTRIES = 2000  # a huge folder is not listed in full on every key press


def complete(value: str, base: Path, suffixes: tuple[str, ...] = ()) -> str | None:
    """`value` completed against the file system: the one matching entry (a folder gets its
    `/`), else the matching entries' common prefix, else the first of them; entries ending
    in `suffixes` and folders only (when suffixes are given), hidden ones only when asked."""
    head, tail = os.path.split(value)
    folder = Path(os.path.expanduser(head or "."))
    folder = folder if folder.is_absolute() else base / folder
    try:
        with os.scandir(folder) as it:
            entries = [e for _, e in zip(range(MAX_ENTRIES), it)]
    except OSError:
        return None
    names = sorted((e.name + ("/" if e.is_dir() else "")) for e in entries
                   if e.name.startswith(tail) and (tail.startswith(".") or not e.name.startswith("."))
                   and (not suffixes or e.is_dir() or e.name.endswith(suffixes)))
    if not names:
        return None
    common = os.path.commonprefix(names)
    pick = names[0] if len(names) == 1 or len(common) <= len(tail) else common
    return None if pick == tail else os.path.join(head, pick)


class PathSuggester(Suggester):
    """Suggests the completion of a path typed so far, relative to `base` (the working
    directory when None), among folders and files ending in `suffixes`."""

    def __init__(self, suffixes: tuple[str, ...] = (".yaml", ".yml"), base: Path | None = None):
        super().__init__(use_cache=False, case_sensitive=True)
        self.suffixes, self.base = suffixes, base

    async def get_suggestion(self, value: str) -> str | None:
        return complete(value, self.base or Path.cwd(), self.suffixes)
