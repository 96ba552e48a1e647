"""The Runs screen's overlay: the validation curves of the selected runs for one metric@K,
which the user picks (`m` cycles through the metrics the runs recorded)."""
from __future__ import annotations

from diffrec_tui.live import valid_key
from diffrec_tui.widgets.charts import Series

MARKERS = ("hd", "x", "•", "+", "*", "o")  # one per run: curves told apart without colour


def metric_keys(infos) -> list[str]:
    """The valid metric keys (recall@20, ...) the runs' evaluations recorded, in order."""
    keys = {k for info in infos for e in info.events if e["type"] == "eval" for k in (e.get("valid") or {})}
    return sorted(keys, key=lambda k: (k.partition("@")[0], int(k.partition("@")[2] or 0)))


def overlay(infos, wanted: str | None, label=str) -> tuple[str, list[Series]]:
    """The metric shown (the user's choice, else the first run's valid_metric) and one series per run."""
    keys = metric_keys(infos)
    key = wanted if wanted in keys else (valid_key(infos[0].config) if infos else "recall@20")
    series = []
    for i, info in enumerate(infos):
        evals = [e for e in info.events if e["type"] == "eval" and key in (e.get("valid") or {})]
        series.append(Series(label(info.id), [e["epoch"] for e in evals], [e["valid"][key] for e in evals],
                             marker=MARKERS[i % len(MARKERS)]))
    return key, series


def next_key(infos, current: str | None) -> str | None:
    keys = metric_keys(infos)
    if not keys:
        return None
    return keys[(keys.index(current) + 1) % len(keys)] if current in keys else keys[0]
