"""Which other runs were trained on the same data (the --run summary's peers), and a run's
first event. The run directories themselves are listed by engine.records.run_index."""
from __future__ import annotations

import json
from pathlib import Path

from engine.records.runs import RunDir


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
    for r in index.peers(fingerprint, model_wanted=lambda model: model not in best_of_model):
        model = r.keys.get("model")
        if model not in best_of_model and r.status == "finished" and r.best[1]:
            best_of_model[model] = r
            if len(best_of_model) == models:
                break  # every model has its latest run: older ones would not show
    return list(best_of_model.values())
