"""How a sweep shares the machine: how many trials run at once, and how many threads each gets."""
from __future__ import annotations

import os

from engine.errors import InputError


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def share(base: dict, workers: int | None, runnable: int) -> tuple[int, int | None]:
    """(workers, threads per trial). By default as many workers as fit the cores (one
    thread each, or the base config's own `threads`), never more than there are trials."""
    n = cores()
    fixed = base.get("threads") or 0
    if workers is None:
        workers = max(1, min(n // max(1, fixed), runnable))
    elif workers < 1:
        raise InputError(f"--workers: must be >= 1, got {workers}")
    return workers, (None if fixed else max(1, n // workers))
