"""The row of screen tabs under the header: shows where you are, switches on click."""
from __future__ import annotations

from textual.widgets import Static


class NavBar(Static):
    """`[1 Config] 2 Train 3 Runs ...` built from the app's page registry."""

    def __init__(self, current: str, *, id: str | None = "nav"):
        super().__init__(id=id, markup=True)
        self.current = current

    def on_mount(self) -> None:
        parts = []
        for page in self.app.pages():
            label = f" {page.key} {page.title} "
            cls = "nav-current" if page.mode == self.current else "nav-link"
            parts.append(f"[@click=app.page('{page.mode}')][{'b reverse' if cls == 'nav-current' else 'dim'}]"
                         f"{label}[/][/]")
        self.update(" ".join(parts))
