"""Shared by the app benchmarks: time from a key press to the change being applied
("handled") and to the next full frame written to the terminal ("painted")."""
from __future__ import annotations

import asyncio
import functools
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from diffrec_tui.app import DiffRecApp  # noqa: E402

marks: dict[str, float] = {}


class Probe(DiffRecApp):
    """The app, recording when the first frame after a handled key is displayed."""

    def _display(self, screen, renderable):
        if renderable is not None and not self._batch_count and "handled" in marks and "painted" not in marks:
            marks["painted"] = time.perf_counter()
        super()._display(screen, renderable)


def mark_handled(fn):
    """Wrap a screen method so that its return marks the key as handled."""
    @functools.wraps(fn)  # Textual passes arguments by the wrapped signature
    def wrapper(self, *args, **kwargs):
        out = fn(self, *args, **kwargs)
        marks.setdefault("handled", time.perf_counter())
        return out
    return wrapper


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


async def timed(pilot, *keys: str, timeout: float = 60.0) -> tuple[float, float]:
    """(handled, painted) in ms after pressing keys (the clock starts at the last key)."""
    if len(keys) > 1:
        await pilot.press(*keys[:-1])
    marks.clear()
    t0 = time.perf_counter()
    await pilot.press(keys[-1])
    deadline = t0 + timeout
    while "painted" not in marks and time.perf_counter() < deadline:
        await asyncio.sleep(0.001)
    return (marks.get("handled", float("nan")) - t0) * 1000, (marks.get("painted", float("nan")) - t0) * 1000
