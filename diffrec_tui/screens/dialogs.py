"""Small modal dialogs: yes/no confirmation, a path prompt, quit-with-a-run-active, unsaved edits."""
from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class Confirm(ModalScreen[bool]):
    """Ask a yes/no question; dismisses with True (y / Yes) or False (n / escape)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No"):
        super().__init__(classes="dialog-screen")
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(escape(self.question), classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="error")
                yield Button(f"{self.no} (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class PathPrompt(ModalScreen[str | None]):
    """Ask for a file path; dismisses with the text (enter) or None (escape)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "path/to/config.yaml", suggester=None):
        super().__init__(classes="dialog-screen")
        self.title_text, self.value, self.placeholder = title, value, placeholder
        self.suggester = suggester  # e.g. widgets.path_suggester.PathSuggester: completion (right arrow takes it)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            inp = Input(value=self.value, placeholder=self.placeholder, id="path", suggester=self.suggester,
                        select_on_focus=self.suggester is None)  # a path to complete: typing extends it
            inp.cursor_blink = not self.app.is_headless
            yield inp
            yield Static("enter to confirm, escape to cancel", classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class QuitWithRun(ModalScreen[str | None]):
    """Work this app started is still running (runs, sweeps): stop it, leave it running,
    or do not quit."""

    BINDINGS = [
        Binding("s", "choose('stop')", "Stop and quit", id="quit.stop"),
        Binding("l", "choose('leave')", "Leave running and quit", id="quit.leave"),
        Binding("escape,c", "choose(None)", "Cancel", id="quit.cancel"),
    ]

    def __init__(self, running: list[str]):
        super().__init__(classes="dialog-screen")
        self.running = running  # e.g. ["run 2025...-DiffRec-synthetic", "sweep 2025...-hyper"]

    def compose(self) -> ComposeResult:
        names = ", ".join(f"[b]{escape(x)}[/b]" for x in self.running)
        verb = "is" if len(self.running) == 1 else "are"
        with Vertical(classes="dialog"):
            yield Static(f"{names} {verb} still running.\n"
                         "Stop (best checkpoints and finished trials are kept) or leave running in the background?",
                         classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Stop and quit (s)", id="stop", variant="error")
                yield Button("Leave running (l)", id="leave", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)


class UnsavedEdits(ModalScreen[str | None]):
    """The editor's config has unsaved edits and something is about to replace it (quit,
    open another file, a run's config, a sweep's best): save, discard, or cancel."""

    BINDINGS = [
        Binding("s", "choose('save')", "Save", id="unsaved.save"),
        Binding("d", "choose('discard')", "Discard", id="unsaved.discard"),
        Binding("escape,c", "choose(None)", "Cancel", id="unsaved.cancel"),
    ]

    def __init__(self, name: str, doing: str):
        super().__init__(classes="dialog-screen")
        self.name_text, self.doing = name, doing  # e.g. "default.yaml", "quitting"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"[b]{escape(self.name_text)}[/b] has unsaved edits.\n"
                         f"Save them before {escape(self.doing)}, or discard them?", classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (s)", id="save", variant="primary")
                yield Button("Discard (d)", id="discard", variant="error")
                yield Button("Cancel (esc)", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)
