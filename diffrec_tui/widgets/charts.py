"""Line charts drawn with plotext (textual-plotext), fed whole series at a time."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from textual_plotext import PlotextPlot

MAX_POINTS = 240  # more points than a terminal chart has columns only costs time
COLORS = ("cyan", "orange", "green", "magenta", "blue", "red", "yellow", "gray")


@dataclass(frozen=True)
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str | None = None


def downsample(xs: Sequence[float], ys: Sequence[float], n: int = MAX_POINTS) -> tuple[list, list]:
    """At most `n` evenly spaced points, always keeping the first and the last."""
    m = len(xs)
    if m <= n:
        return list(xs), list(ys)
    idx = sorted({round(i * (m - 1) / (n - 1)) for i in range(n)})
    return [xs[i] for i in idx], [ys[i] for i in idx]


class CachedPlot(PlotextPlot):
    """A plotext plot built only when its data, size or theme changed: Textual also asks
    for a render when the screen is switched or a neighbour moves, and a plotext build
    takes tens of milliseconds. Subclasses set up `self.plt`, then call `redraw()`."""

    def __init__(self, *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self._version = 0
        self._cached_key: tuple | None = None
        self._cached = None

    def redraw(self) -> None:
        self._version += 1
        self.refresh()

    def render(self):
        key = (self.size, self.app.theme, self.theme, self._version)
        if key != self._cached_key:
            self._cached = super().render()
            self._cached_key = key
        return self._cached


class LineChart(CachedPlot):
    """A titled line chart; `show()` replaces every series and redraws once."""

    def __init__(self, title: str = "", xlabel: str = "", *, empty: str = "no data yet",
                 id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.title_text = title
        self.xlabel = xlabel
        self.empty = empty
        self.series: list[Series] = []
        self._configure()

    def _configure(self) -> None:
        plt = self.plt
        plt.clear_data()
        has_data = any(len(s.xs) for s in self.series)
        plt.title(self.title_text if has_data else f"{self.title_text}: {self.empty}")
        plt.xlabel(self.xlabel)
        for i, s in enumerate(self.series):
            if not len(s.xs):
                continue
            xs, ys = downsample(s.xs, s.ys)
            plt.plot(xs, ys, label=s.label, color=s.color or COLORS[i % len(COLORS)], marker="hd")

    def show(self, series: list[Series], title: str | None = None, empty: str | None = None) -> None:
        self.series = list(series)
        if title is not None:
            self.title_text = title
        if empty is not None:
            self.empty = empty
        self._configure()
        self.redraw()
