"""What the Inspect screen's thread workers share: the torch set-up (once, in the first
worker), a small cache of loaded runs, and the check that a run can be inspected at all
(made without torch). torch is imported in workers only, never by this module."""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from engine.records.runs import RunDir

CACHE_RUNS = 3  # Inspectors kept (each holds a run's dataset and model)

_torch_lock = threading.Lock()
_torch_ready = False


def torch_setup() -> None:
    """First call in a worker: one torch thread. Single-user denoising is a handful of small
    matrix products; more threads only add contention with the UI and other processes."""
    global _torch_ready
    with _torch_lock:
        if not _torch_ready:
            import torch
            torch.set_num_threads(1)
            _torch_ready = True


class Abandoned(Exception):
    """Raised inside a worker to stop a computation nobody waits for any more."""


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def has_checkpoint(path: Path) -> bool:
    return RunDir(path).checkpoint_file.is_file()


def inspectable(path: Path) -> str | None:
    """Why a run directory cannot be inspected (None if it can), checked without torch."""
    if not path.is_dir():
        return f"inspect: {path}: no such run directory; pick another run (p)"
    if not has_checkpoint(path):
        name = RunDir(path).checkpoint_file.name
        return (f"inspect: run {path.name} has no {name} (it has not finished an evaluation); "
                "pick a run with a checkpoint (p)")
    return None


class InspectorCache:
    """The last CACHE_RUNS runs' Inspectors, one per version of the checkpoint file (a run
    that trained on is loaded again). Safe to use from several worker threads."""

    def __init__(self, size: int = CACHE_RUNS) -> None:
        self.size = size
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path):
        key = (path.resolve(), RunDir(path).checkpoint_file.stat().st_mtime_ns)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        from engine.inspection.inspector import Inspector  # imports torch: workers only
        insp = Inspector(path)
        with self._lock:
            self._items[key] = insp
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return insp
