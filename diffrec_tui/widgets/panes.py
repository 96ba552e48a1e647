"""Layouts that adapt to the terminal: the app carries `-short` (fewer than SHORT rows) and
`-narrow` (fewer than NARROW columns) and `-tall` (TALL rows or more) classes, and a screen with more panes than a small
terminal holds shows one of them at a time (f6 shows the next; CSS hides the others)."""
from __future__ import annotations

from textual.binding import Binding

SHORT, NARROW, TALL = 32, 110, 50  # 80x24 is short and narrow; 140x42 neither; 200x60 tall
PANE_BINDING = Binding("f6", "next_pane", "Next pane", id="app.next_pane")
OFF = "-pane-off"  # the class of a pane not shown (hidden only while the terminal is small)


def fit(app, width: int, height: int) -> None:
    app.set_class(height < SHORT, "-short")
    app.set_class(width < NARROW, "-narrow")
    app.set_class(height >= TALL, "-tall")


class Panes:
    """Mixin for a Screen: PANES lists selectors; `pane` is the one shown when compact."""

    PANES: tuple[str, ...] = ()
    pane: int = 0

    def show_pane(self, index: int) -> None:
        self.pane = index % len(self.PANES)
        for i, selector in enumerate(self.PANES):
            for node in self.query(selector):
                node.set_class(i != self.pane, OFF)

    def action_next_pane(self) -> None:
        self.show_pane(self.pane + 1)

    def compact(self) -> bool:
        return self.app.has_class("-short") or self.app.has_class("-narrow")
