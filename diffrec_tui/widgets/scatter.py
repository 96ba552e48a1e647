"""A scatter chart (plotext via textual-plotext): one point per trial, the metric against a
parameter. Choice parameters sit on evenly spaced ticks named by their values; continuous
ones on a numeric axis (logarithmic for `loguniform`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence


from engine.search.space import format_value

from diffrec_tui.widgets.charts import CachedPlot


@dataclass(frozen=True)
class Scatter:
    xs: Sequence[Any]
    ys: Sequence[float]
    title: str = ""
    xlabel: str = ""
    categories: Sequence[Any] | None = None  # the axis's values in order, for a choice parameter
    log: bool = False
    highlight: int | None = None  # index into xs/ys of the point to mark (the best trial)
    highlight_label: str = "best"
    extra: dict = field(default_factory=dict)


def positions(xs: Sequence[Any], categories: Sequence[Any]) -> tuple[list[float], list[str]]:
    """x values as positions on a categorical axis, and the tick labels."""
    keys = [format_value(c) for c in categories]
    for x in xs:  # a value outside the list (a reopened sweep edited by hand) still shows
        if format_value(x) not in keys:
            keys.append(format_value(x))
    return [float(keys.index(format_value(x))) for x in xs], keys


def spread(xs: list[float], width: float = 0.5) -> list[float]:
    """Points on the same category side by side across its band (two close trials would
    otherwise share one terminal cell and draw as one)."""
    out = list(xs)
    for x in set(xs):
        idx = [i for i, v in enumerate(xs) if v == x]
        for j, i in enumerate(idx):
            if len(idx) > 1:
                out[i] = x - width / 2 + width * j / (len(idx) - 1)
    return out


class ScatterChart(CachedPlot):
    """`show()` replaces the points and redraws once; the plot is rebuilt only when its
    data, size or theme changed (a plotext build takes tens of milliseconds)."""

    def __init__(self, empty: str = "no points yet", *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.empty = empty
        self.data: Scatter = Scatter([], [])
        self._configure()

    def show(self, data: Scatter) -> None:
        self.data = data
        self._configure()
        self.redraw()

    def _configure(self) -> None:
        d, plt = self.data, self.plt
        plt.clear_figure()  # ticks, limits and scale of the previous parameter go too (render sets size and theme)
        if not len(d.xs):
            plt.title(f"{d.title}: {self.empty}" if d.title else self.empty)
            plt.xlabel(d.xlabel)
            return
        plt.title(d.title)
        plt.xlabel(d.xlabel)
        if d.categories is not None:
            xs, ticks = positions(d.xs, d.categories)
            xs = spread(xs)
            plt.xticks(list(range(len(ticks))), ticks)
            plt.xlim(-0.5, len(ticks) - 0.5)
        else:
            xs = [float(x) for x in d.xs]
            if d.log and min(xs) > 0:
                plt.xscale("log")
        ys = list(d.ys)
        rest = [i for i in range(len(xs)) if i != d.highlight]
        if rest:  # plotext fails to draw the legend of an empty series
            plt.scatter([xs[i] for i in rest], [ys[i] for i in rest], color="cyan", marker="●", label="trials")
        if d.highlight is not None:
            plt.scatter([xs[d.highlight]], [ys[d.highlight]], color="orange", marker="◆", label=d.highlight_label)
