"""Config screen: the schema-driven form, its problems, and the noise-schedule preview."""
from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Header, Static

from engine.config.fields import DIFFUSION_MODELS
from engine.config.schema import SCHEMA, applies
from engine.errors import ConfigError

from diffrec_tui.state import SCHEDULE_KEYS
from diffrec_tui.widgets.form import ConfigForm, clean
from diffrec_tui.widgets.keybar import KeyBar
from diffrec_tui.widgets.nav import NavBar
from diffrec_tui.widgets.path_suggester import PathSuggester
from diffrec_tui.widgets.paint import after_paint
from diffrec_tui.screens.dialogs import Confirm, PathPrompt


class ConfigScreen(Screen):
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="config.save"),
        Binding("f2", "save_as", "Save as", id="config.save_as"),
        Binding("ctrl+o", "open", "Open", id="config.open"),
        Binding("f8", "next_problem", "Next problem", id="config.next_problem"),
        Binding("escape", "leave_field", "Leave field", show=False, id="config.leave_field"),
    ]
    _status_text = ""  # what the status box shows now

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield NavBar("config")
        with Horizontal(id="config-body"):
            yield ConfigForm(self.app.draft, id="form")
            with Vertical(id="config-side"):
                yield Static(id="config-status")
                yield Vertical(id="preview")
        yield KeyBar()

    @property
    def form(self) -> ConfigForm:
        return self.query_one(ConfigForm)

    def on_mount(self) -> None:
        self.show_status()
        # plotext and numpy load after the first paint: the form shows sooner.
        after_paint(self, self._mount_preview)

    async def _mount_preview(self) -> None:
        from diffrec_tui.widgets.charts import LineChart
        await self.query_one("#preview").mount_all([
            LineChart("beta_t", "step t", empty="fix the diffusion keys", integer_x=True, yfmt=".3g",
                      id="beta-chart"),
            LineChart("1 - alpha_bar_t", "step t", empty="fix the diffusion keys", integer_x=True, yfmt=".3g",
                      id="abar-chart")])
        self.draw_preview()

    @property
    def ready(self) -> bool:
        """The form and the preview are fully mounted (tests wait for this)."""
        forms = self.query(ConfigForm)
        return bool(forms) and forms.first().complete and bool(self.query("#abar-chart"))

    def on_screen_resume(self) -> None:
        self.show_status()

    # ------------------------------------------------------------ reactions

    def on_config_form_edited(self, event: ConfigForm.Edited) -> None:
        if event.key in SCHEDULE_KEYS or event.key == "model":
            self.draw_preview()
        self.show_status()

    def reload(self) -> None:
        """The draft was replaced (loaded, opened from a run): show its values."""
        if not self.query(ConfigForm):
            return  # not composed yet: composing reads the draft anyway
        self.form.load_values()
        self.draw_preview()
        self.show_status()

    def draw_preview(self) -> None:
        from engine.models import schedule

        from diffrec_tui.widgets.charts import Series
        if not self.query("#abar-chart"):
            return  # not mounted yet: _mount_preview draws it
        cfg = self.app.draft.preview_config()
        beta, abar = self.query_one("#beta-chart"), self.query_one("#abar-chart")
        model = self.app.draft.model
        if cfg is None or model not in DIFFUSION_MODELS:
            why, empty = ("", "fix the diffusion keys") if cfg is None else \
                (f" (no diffusion in {model})", "nothing to preview")
            beta.show([], title="beta_t" + why, empty=empty)
            abar.show([], title="1 - alpha_bar_t" + why, empty=empty)
            return
        b, one_minus_abar = schedule.preview(cfg)
        steps = list(range(1, len(b) + 1))
        name = cfg["noise_schedule"]
        beta.show([Series(name, steps, b.tolist(), "cyan")], title=f"beta_t ({name}, T={len(b)})")
        abar.show([Series(name, steps, one_minus_abar.tolist(), "orange")],
                  title=f"1 - alpha_bar_t (final {one_minus_abar[-1]:.4g})")

    def show_status(self) -> None:
        if not self.query("#config-status"):
            return  # not composed yet: on_mount shows it
        draft = self.app.draft
        lines = [f"[b]{escape(draft.name)}[/b]" + (" [b $warning]● modified[/]" if draft.dirty else " saved")]
        if draft.problems:
            lines.append(f"[b $error]✗ {len(draft.problems)} problem(s): fix them to start a run (F8 jumps)[/]")
            model = draft.model
            for p in draft.problems[:6]:
                hidden = "" if p.key not in SCHEMA or applies(SCHEMA[p.key], model) else " (hidden for this model)"
                lines.append(f"[$error]• {escape(clean(p.message))}{hidden}[/]")
        else:
            lines.append("[b $success]✓ valid[/]: ctrl+r starts a run")
        text = "\n".join(lines)
        if text != self._status_text:  # a fixed-size box: no layout pass on each keystroke
            self._status_text = text
            self.query_one("#config-status", Static).update(text, layout=False)
        self.app.refresh_title()

    # ------------------------------------------------------------ actions

    def action_leave_field(self) -> None:
        self.set_focus(None)  # so that 1-4, ? and letters act as bindings again

    def action_next_problem(self) -> None:
        draft = self.app.draft
        keys = [p.key for p in draft.problems if p.key in SCHEMA]  # an unknown key has no field
        if keys and self.query(ConfigForm):
            self.form.focus_field(keys[0])

    def action_save(self) -> None:
        self.save_then(None)

    def save_then(self, then) -> None:
        """Save (asking for a file when the draft has none), then call `then()` if it was written."""
        if self.app.draft.path is None:
            self.action_save_as(then)
        elif self._save(self.app.draft.path) and then is not None:
            then()

    def action_save_as(self, then=None) -> None:
        draft = self.app.draft
        current = str(draft.path) if draft.path else "configs/my_config.yaml"

        def save(target: Path) -> None:
            if self._save(target) and then is not None:
                then()

        def chosen(text: str | None) -> None:
            if not text:
                return
            target = Path(text).expanduser()
            if target.exists() and target.resolve() != (draft.path.resolve() if draft.path else None):
                self.app.push_screen(Confirm(f"{target} exists. Overwrite it?", yes="Overwrite", no="Cancel"),
                                     lambda ok: save(target) if ok else None)
            else:
                save(target)

        self.app.push_screen(PathPrompt("Save config as (→ completes)", current, suggester=PathSuggester()), chosen)

    def _save(self, target: Path) -> bool:
        try:
            written = self.app.draft.save(target)
        except ConfigError as exc:
            self.notify(clean(str(exc)), title="Not saved", severity="error")
            return False
        self.notify(f"saved {written}", title="Config")
        self.show_status()
        return True

    def action_open(self) -> None:
        def chosen(text: str | None) -> None:
            if text:
                self.app.load_config(Path(text).expanduser())

        prompt = PathPrompt("Open config (→ completes)", "configs/", suggester=PathSuggester())
        self.app.guard_draft(lambda: self.app.push_screen(prompt, chosen),
                             "opening another file")
