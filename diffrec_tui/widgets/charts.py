"""Line charts drawn with plotext (textual-plotext), fed whole series at a time."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from rich.markup import escape
from textual_plotext import PlotextPlot

MAX_POINTS = 240  # more points than a terminal chart has columns only costs time
COLORS = ("cyan", "orange", "green", "magenta", "blue", "red", "yellow", "gray")


@dataclass(frozen=True)
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str | None = None
    marker: str = "hd"  # plotext marker: series a reader must tell apart get different ones


LEGEND_MARK = {"hd": "━", "braille": "⠒", "dot": "·", "sd": "█", "fhd": "▀"}  # else the marker itself
SMOOTHING = (0.0, 0.6, 0.9)  # the EMA weights the `smooth` keys cycle through (as TensorBoard's slider)


def smooth(ys: Sequence[float], weight: float) -> list[float]:
    """TensorBoard's smoothing: an exponential moving average, debiased at the start."""
    if weight <= 0:
        return list(ys)
    out, last = [], 0.0
    for i, y in enumerate(ys):
        last = last * weight + (1 - weight) * y
        out.append(last / (1 - weight ** (i + 1)))
    return out


def integer_ticks(lo: float, hi: float, most: int = 8) -> list[int]:
    """Whole-number ticks from lo to hi, at most `most` of them (epochs are never 1.25)."""
    first, last = math.ceil(lo), math.floor(hi)
    if last < first:
        return [round(lo)]
    step = max(1, math.ceil((last - first) / max(1, most - 1)))
    return list(range(first, last + 1, step))


def y_tick_count(height: int) -> int:
    """How many y ticks fit a chart `height` rows tall (title, frame and x axis take 5),
    at least two rows apart: more would share a row and one label would hide another."""
    rows = height - 5
    return min(5, max(2, (rows - 1) // 2 + 1))


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

    def refigure(self) -> None:
        """Set the figure up afresh before a build: plotext's build changes the figure's
        state (a second build, or one at another size, places ticks differently), so a
        chart built from its history would differ from run to run (unstable snapshots)."""

    def render(self):
        key = (self.size, self.app.theme, self.theme, self._version)
        if key != self._cached_key:
            self.refigure()
            self._cached = super().render()
            self._cached_key = key
        return self._cached


class LineChart(CachedPlot):
    """A titled line chart; `show()` replaces every series and redraws once. The legend
    sits in the title row, outside the data; `integer_x` puts ticks on whole numbers
    (epochs); `log_y` and `smoothing` are the reader's choices."""

    def __init__(self, title: str = "", xlabel: str = "", *, empty: str = "no data yet",
                 integer_x: bool = False, yfmt: str | None = None, id: str | None = None,
                 classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.title_text = title
        self.xlabel = xlabel
        self.empty = empty
        self.integer_x = integer_x
        self.yfmt = yfmt  # e.g. ".3g": short y labels (plotext writes 0.00001000)
        self.log_y = False
        self.smoothing = 0.0
        self.series: list[Series] = []
        self.cursor: float | None = None  # the x whose exact values the reader asked for
        self._configure()

    def refigure(self) -> None:
        self._configure()

    def legend(self) -> str:
        shown = [s for s in self.series if len(s.xs)]
        if len(shown) < 2:  # one series: the title names it
            return ""
        return "   ".join(f"{LEGEND_MARK.get(s.marker, s.marker)} {s.label}" for s in shown)

    def _configure(self) -> None:
        plt = self.plt
        plt.clear_figure()  # ticks, limits and scale go too (render sets size and theme)
        shown = [(i, s) for i, s in enumerate(self.series) if len(s.xs)]
        if not shown:
            plt.title(f"{self.title_text}: {self.empty}")
            plt.xlabel(self.xlabel)
            return
        extras = [x for x in ("log y" if self.log_y else "", f"smoothed {self.smoothing:g}" if self.smoothing else "") if x]
        plt.title("  ".join([self.title_text + (f" ({', '.join(extras)})" if extras else ""), self.legend()]).strip())
        plt.xlabel(self.xlabel)
        all_x, all_y = [], []
        for i, s in shown:
            xs, ys = downsample(s.xs, smooth(s.ys, self.smoothing))
            if self.log_y:
                xs, ys = [x for x, y in zip(xs, ys) if y > 0], [y for y in ys if y > 0]
            color = s.color or COLORS[i % len(COLORS)]
            if len(xs) == 1:  # one evaluation: a visible point, not a quarter block on the axis
                plt.scatter(xs, ys, color=color, marker="●" if s.marker == "hd" else s.marker)
            elif xs:
                plt.plot(xs, ys, color=color, marker=s.marker)
            all_x += xs
            all_y += ys
        self._limits(all_x, all_y)
        if self.cursor is not None:
            plt.vline(self.cursor, "gray")

    def _limits(self, xs: list[float], ys: list[float]) -> None:
        plt = self.plt
        if not xs:
            return
        lo, hi = min(xs), max(xs)
        if lo == hi:  # a single x: room either side, so the point is not on the frame
            lo, hi = lo - 1, hi + 1
            plt.xlim(lo, hi)
        if self.integer_x:
            plt.xticks(integer_ticks(lo, hi))
        if self.log_y:
            plt.yscale("log")
            return
        ylo, yhi = min(ys), max(ys)
        if ylo == yhi:  # a flat series: centred, not on the title row
            pad = abs(ylo) * 0.1 or 1.0
            ylo, yhi = ylo - pad, yhi + pad
            plt.ylim(ylo, yhi)
        if self.yfmt:
            n = y_tick_count(self.size.height)
            ticks = [ylo + (yhi - ylo) * i / (n - 1) for i in range(n)]
            plt.yticks(ticks, [format(t, self.yfmt) for t in ticks])

    def show(self, series: list[Series], title: str | None = None, empty: str | None = None) -> None:
        self.series = list(series)
        if title is not None:
            self.title_text = title
        if empty is not None:
            self.empty = empty
        self._configure()
        self.redraw()

    def set_view(self, *, log_y: bool | None = None, smoothing: float | None = None) -> None:
        if log_y is not None:
            self.log_y = log_y
        if smoothing is not None:
            self.smoothing = smoothing
        self._configure()
        self.redraw()

    # ------------------------------------------------------------ the value cursor

    def cursor_xs(self) -> list[float]:
        return sorted({x for s in self.series for x in s.xs})

    def set_cursor(self, x: float | None) -> None:
        self.cursor = x
        self._configure()
        self.redraw()

    def values_at(self, x: float) -> list[tuple[str, float, float]]:
        """Each series' recorded (unsmoothed) value at x, or at its last x before it."""
        out = []
        for s in self.series:
            before = [(sx, sy) for sx, sy in zip(s.xs, s.ys) if sx <= x]
            if before:
                out.append((s.label, *before[-1]))
        return out


def step_cursor(xs: Sequence[float], current: float | None, step: int) -> float | None:
    """The cursor `step` recorded x values on from `current` (a new one starts on the last)."""
    xs = sorted(set(xs))
    if not xs:
        return None
    if current not in xs:
        return xs[-1]
    return xs[max(0, min(len(xs) - 1, xs.index(current) + step))]


def values_text(charts: Sequence[LineChart], x: float | None, what: str = "epoch", note: str = "") -> str:
    """The exact values of the charts' series at the cursor, one line each (markup)."""
    if x is None:
        return ""
    lines = [f"[b]at {what} {x:g}[/b]  , . move" + (f"  ·  {note}" if note else "")]
    for chart in charts:
        for label, sx, sy in chart.values_at(x):
            lines.append(f"{escape(label):<20} {sy:.4f}" + (f" ({what} {sx:g})" if sx != x else ""))
    return "\n".join(lines)
