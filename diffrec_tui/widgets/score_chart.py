"""The Inspect screen's chart: one score vector over the items sorted by score, with the
user's history and held-out items marked where they landed (plotext, numpy only)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diffrec_tui.widgets.charts import CachedPlot

MAX_POINTS = 400  # the curve is downsampled to this; marked items are always drawn
# (key, colour, marker) of each marked set, drawn in this order (last on top)
MARKS = (("history", "blue", "●"), ("valid", "green", "◆"), ("test", "red", "▲"))


@dataclass
class Curve:
    """A vector sorted high to low: ranks (1-based) and values of the plotted points, and
    the rank/value of each marked item set."""
    x: np.ndarray
    y: np.ndarray
    marks: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def curve(vec: np.ndarray, marked: dict[str, np.ndarray], points: int = MAX_POINTS) -> Curve:
    vec = np.asarray(vec, dtype=np.float64)
    order = np.argsort(-vec, kind="stable")  # ties keep item order: the same picture every time
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(1, len(order) + 1)
    idx = np.unique(np.linspace(0, len(order) - 1, min(points, len(order))).astype(np.int64))
    marks = {}
    for key, items in marked.items():
        items = np.asarray(items, dtype=np.int64)
        if len(items):
            marks[key] = (rank[items], vec[items])
    return Curve(idx + 1, vec[order[idx]], marks)


class ScoreChart(CachedPlot):
    """`show(vec, marked, cutoff, title)` replaces the picture; the plot is rebuilt only when
    the data, size or theme changed (a plotext build costs tens of milliseconds). The
    top-K line is drawn after the first `cutoff` items of the sorted vector."""

    def __init__(self, *, empty: str = "no user yet", id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.empty = empty
        self.curve: Curve | None = None
        self.vector: np.ndarray | None = None
        self.title_text = ""
        self.log_x = False
        self._configure(None, 0)

    def _configure(self, c: Curve | None, cutoff: int, log_x: bool = False) -> None:
        plt = self.plt
        plt.clear_data()
        plt.xscale("linear")
        if c is None:
            plt.title(self.empty)
            plt.xlabel("")
            return
        plt.xscale("log" if log_x else "linear")
        plt.title(self.title_text)
        plt.xlabel("items by score, highest first (rank)")
        plt.plot(c.x.tolist(), c.y.tolist(), color="cyan", marker="braille")
        for key, color, marker in MARKS:
            if key in c.marks:
                xs, ys = c.marks[key]
                plt.scatter(xs.tolist(), ys.tolist(), color=color, marker=marker)
        if 0 < cutoff < len(self.vector):
            plt.vline(cutoff + 0.5, "gray")

    def show(self, vec: np.ndarray | None, marked: dict[str, np.ndarray] | None = None, cutoff: int = 0,
             title: str = "", log_x: bool = False) -> None:
        self.vector = None if vec is None else np.asarray(vec)
        self.curve = None if vec is None else curve(vec, marked or {})
        self.title_text = title
        self.log_x = log_x
        self._configure(self.curve, cutoff, log_x)
        self.redraw()
