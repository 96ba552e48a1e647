"""A one-line key bar: the active bindings of the screen, clickable.

It does the job of Textual's Footer with a single Static: the Footer rebuilds one widget
per key each time a screen is shown, which made switching screens slow on a busy CPU.
"""
from __future__ import annotations

from rich.markup import escape
from textual.screen import Screen
from textual.widgets import Static


class KeyBar(Static):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
    }
    """

    def __init__(self, *, id: str | None = "keybar"):
        super().__init__(id=id, markup=True)
        self._text = ""

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self.show_keys)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen:
            self.show_keys()

    def show_keys(self) -> None:
        parts, seen = [], set()
        palette = self.app.COMMAND_PALETTE_BINDING
        for key, (_node, binding, enabled, _tip) in self.screen.active_bindings.items():
            if not binding.show or key == palette or (binding.action, binding.description) in seen:
                continue
            seen.add((binding.action, binding.description))
            shown = escape(self.app.get_key_display(binding))
            desc = escape(binding.description)
            if not enabled:
                shown, desc = f"[dim]{shown}[/dim]", f"[dim]{desc}[/dim]"
            part = f"[@click=app.simulate_key('{key}')][b $footer-key-foreground]{shown}[/] {desc}[/]"
            if binding.action == "help":  # first: a narrow terminal cuts the bar's end, never help
                parts.insert(0, part)
            else:
                parts.append(part)
        text = " " + "  ".join(parts)
        if self.app.ENABLE_COMMAND_PALETTE:
            text += f"  [@click=app.simulate_key('{palette}')][b $footer-key-foreground]^p[/] palette[/]"
        if text != self._text:
            self._text = text
            self.update(text, layout=False)
