"""The event log pane: wrapped lines (nothing cut at the pane's edge), scroll back with the
mouse or the keys, and a filter (`/` on the Train screen) that shows only matching lines."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, RichLog

MAX_LINES = 2000


class EventLog(Vertical):
    DEFAULT_CSS = """
    EventLog #log-filter { display: none; height: 1; border: none; padding: 0 1; background: $boost; }
    EventLog.-filtering #log-filter { display: block; }
    EventLog RichLog { height: 1fr; background: transparent; }
    """

    def __init__(self, *, id: str | None = None):
        super().__init__(id=id)
        self.lines: list[str] = []
        self.pattern = ""

    def compose(self) -> ComposeResult:
        inp = Input(placeholder="filter the log: words to match (escape leaves)", id="log-filter")
        inp.cursor_blink = not self.app.is_headless
        inp.can_focus = False  # until `/`: the screen's keys stay keys
        yield inp
        yield RichLog(wrap=True, markup=False, highlight=False, max_lines=MAX_LINES, id="log-lines")

    @property
    def view(self) -> RichLog:
        return self.query_one(RichLog)

    def _matches(self, line: str) -> bool:
        return all(w in line.lower() for w in self.pattern.lower().split())

    def clear(self) -> None:
        self.lines = []
        self.view.clear()

    def write_lines(self, lines: list[str]) -> None:
        self.lines = (self.lines + list(lines))[-MAX_LINES:]
        for line in lines:
            if self._matches(line):
                self.view.write(line)

    def shown(self) -> list[str]:
        return [line for line in self.lines if self._matches(line)]

    def start_filter(self) -> None:
        self.add_class("-filtering")
        inp = self.query_one("#log-filter", Input)
        inp.can_focus = True
        inp.focus()

    def end_filter(self) -> None:
        """Leave the filter field; an empty filter is hidden again."""
        inp = self.query_one("#log-filter", Input)
        self.screen.set_focus(None)
        if not self.pattern.strip():
            self.remove_class("-filtering")
            inp.can_focus = False

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.pattern = event.value.removeprefix("/")  # the `/` that opened the filter may land in it
        self.view.clear()
        for line in self.shown():
            self.view.write(line)
        self.border_subtitle = f"filter: {self.pattern}" if self.pattern.strip() else ""
