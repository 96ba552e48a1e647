"""The app's editor actions (a mixin of DiffRecApp): open / save the config, put a run's
config in the editor, the unsaved-edit guard, and screenshots saved where a user looks."""
from __future__ import annotations

from pathlib import Path

from engine.errors import ConfigError, InputError


class EditorActions:
    def _config_screen(self):
        self.action_page("config")
        return self.screen_for("config")

    def action_open_config(self) -> None:
        self._config_screen().action_open()

    def action_save_config(self) -> None:
        self._config_screen().action_save()

    def action_save_config_as(self) -> None:
        self._config_screen().action_save_as()

    def load_config(self, path: Path) -> bool:
        try:
            self.draft.load(path)
        except (ConfigError, InputError) as exc:
            self.notify(str(exc), title="Not opened", severity="error")
            return False
        self._config_screen().reload()
        bad = len(self.draft.problems)
        self.notify(f"opened {path}" + (f" with {bad} problem(s): fix them in the form" if bad else "")
                    + (f"\n{self.draft.note}" if self.draft.note else ""),
                    title="Config", severity="warning" if bad else "information")
        return True

    def edit_config(self, cfg: dict, origin: str, notice: str | None = None) -> None:
        """Put a run's config in the editor (unsaved) to start a variant of it; unsaved
        edits of the current draft are saved or discarded first (or nothing happens)."""
        def replace() -> None:
            self.draft.replace(cfg, None, origin=origin, dirty=True)
            self._config_screen().reload()
            if notice:
                self.notify(notice, title="Config")

        self.guard_draft(replace, f"opening {origin}")

    def guard_draft(self, then, doing: str) -> None:
        """Call `then()` now if the draft has no unsaved edits; else ask save / discard / cancel."""
        if not self.draft.dirty:
            then()
            return
        from diffrec_tui.screens.dialogs import UnsavedEdits

        def chosen(choice: str | None) -> None:
            if choice == "discard":
                then()
            elif choice == "save":
                self._config_screen().save_then(then)

        self.push_screen(UnsavedEdits(self.draft.name, doing), chosen)

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """Save into the runs directory (else the working directory), not ~/Downloads
        (which may not exist), and say where; in a browser, Textual's own delivery."""
        if self.is_web:
            return super().deliver_screenshot(filename, path, time_format)
        folder = Path(path) if path else (self.runs_dir if self.runs_dir.is_dir() else Path.cwd())
        try:
            saved = self.save_screenshot(filename, str(folder), time_format)
        except OSError as exc:
            self.notify(f"screenshot not saved in {folder}: {exc.strerror or exc}", severity="error")
            return None
        self.notify(f"saved {saved}", title="Screenshot")
        return saved
