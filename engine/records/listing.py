"""Finding runs in a runs folder: the run directories (and the trials of its sweeps), whether a
run is a sweep's trial, and which other runs were trained on the same data."""
from __future__ import annotations

import json
from pathlib import Path

from engine.records import runs
from engine.records.runs import RunDir, RunInfo
from engine.records.sweeps import SweepDir


def run_dirs(root: Path, sweeps: bool = True) -> list[Path]:
    """Run directories under `root`, and (with `sweeps`) the trials of its sweeps (sweep-*/<run>)."""
    out = []
    for p in Path(root).iterdir():
        if p.is_dir() and RunDir(p).exists():
            out.append(p)
        elif sweeps and p.name.startswith("sweep-") and SweepDir(p).exists():
            out.extend(q for q in p.iterdir() if q.is_dir() and RunDir(q).exists())
    return out


def in_sweep(path: Path) -> bool:
    """Is this run a sweep's trial (a run directory inside a sweep directory)?"""
    return path.parent.name.startswith("sweep-") and SweepDir(path.parent).exists()


def first_event(path: Path) -> dict:
    """The run's first event (its `started`: model and dataset fingerprint), or {}."""
    try:
        with open(RunDir(path).events_file, encoding="utf-8") as fh:
            ev = json.loads(fh.readline())
    except (OSError, ValueError):
        return {}
    return ev if isinstance(ev, dict) else {}


def peers(run) -> list:
    """Finished runs in the same runs directory on the same data (same fingerprint), newest
    run of each model first, so a DiffRec run is shown beside the baselines. They come from
    the run index: a runs folder of thousands lists from its index file."""
    from engine.config.schema import SCHEMA
    from engine.records.run_index import RunIndex

    index = RunIndex.shared(run.path.parent)
    fingerprint = index.get(run.path).fingerprint
    if fingerprint is None:
        return []
    models = len(SCHEMA["model"].choices)
    best_of_model: dict = {}
    for r in index.peers(fingerprint):
        model = r.keys.get("model")
        if model not in best_of_model and r.status == "finished" and r.best[1]:
            best_of_model[model] = r
            if len(best_of_model) == models:
                break  # every model has its latest run: older ones would not show
    return list(best_of_model.values())
