"""Help: every key binding of the app and of each screen, read from their BINDINGS."""
from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

INTRO = ("[b]diffrec-tui[/b]: edit a DiffRec config, train it in a background worker, watch the curves, "
         "compare runs. Training runs in its own process: quitting can leave it running.\n"
         "ctrl+p opens the command palette (open/save config, start/stop run, switch screen, open run). "
         "In a text field, escape leaves it so that single keys act as commands again. "
         "Escape closes this help.")


def binding_lines(bindings, skip=()) -> list[str]:
    """One line per action: its keys (bindings of the same action merged) and description."""
    keys: dict[tuple[str, str], list[str]] = {}
    for b in bindings:
        if not isinstance(b, Binding) or not b.description or b.id in skip:
            continue
        keys.setdefault((b.action, b.description), []).extend(_key_name(k) for k in b.key.split(","))
    return [f"  [b]{_key_markup(', '.join(k))}[/b] {escape(desc)}" for (_, desc), k in keys.items()]


def _key_markup(label: str) -> str:
    """Keys padded to 14 columns; every `[` escaped (keys such as `[` are not markup)."""
    return label.replace("[", "\\[") + " " * max(0, 14 - len(label))


KEY_NAMES = {"slash": "/", "question_mark": "?", "space": "space", "comma": ",", "full_stop": ".",
             "left_square_bracket": "[", "right_square_bracket": "]", "left": "←", "right": "→",
             "less_than_sign": "<", "greater_than_sign": ">"}


def _key_name(key: str) -> str:
    return KEY_NAMES.get(key.strip(), key.strip())


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close help", id="help.close")]

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def compose(self) -> ComposeResult:
        app = self.app
        shown = {f"app.page.{p.mode}" for p in app.pages()}
        hidden = {b.id for b in app.BINDINGS if b.id and b.id.startswith("app.page.") and b.id not in shown}
        sections = [["[b $accent]Everywhere[/]"] + binding_lines(app.BINDINGS, skip=hidden)]
        for page in app.pages():
            cls = app.page_class(page)
            if cls is not None:
                sections.append([f"[b $accent]{page.key} {escape(page.title)} screen[/]"] + binding_lines(cls.BINDINGS))
        # Two columns, filled in order, so every key fits on one screen.
        half = (sum(len(s) + 1 for s in sections) + 1) // 2
        columns: list[list[str]] = [[], []]
        target = 0
        for sec in sections:
            if target == 0 and columns[0] and len(columns[0]) + len(sec) > half:
                target = 1
            columns[target].extend(sec + [""])
        with VerticalScroll(classes="dialog help"):
            yield Static(INTRO, id="help-intro")
            with Horizontal(id="help-columns"):
                yield Static("\n".join(columns[0]), classes="help-column")
                yield Static("\n".join(columns[1]), classes="help-column")

    def action_close(self) -> None:
        self.dismiss(None)
