"""Sweep screen: write or load a search space (RecBole's hyper.test), choose the search
(grid, random, bayes), the pruner and the backend, launch it on the editor's config, watch
its trials (pruned ones too), plot the validation metric against a parameter or the best
so far against trial number or wall time, open a trial in the Runs or Inspect screen, and
promote the best config to the editor.

The sweep runs in its own process, which the app owns (diffrec_tui.coordinators): this
screen asks the app to launch, resume or stop one, re-reads the sweep directory on a
timer while it is active, and redraws only what changed.
"""
from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Header, Select, Static

from engine.search import space as tuning
from engine.errors import ConfigError, InputError
from engine.records.sweeps import SweepInfo, TrialInfo, load_sweep

from diffrec_tui import sweeps
from diffrec_tui.widgets.keybar import KeyBar
from diffrec_tui.widgets.panes import PANE_BINDING, Panes
from diffrec_tui.widgets.nav import NavBar
from diffrec_tui.screens.sweep.results import CURVES, BestCurve, SweepStatus, TrialScatter, TrialTable, space_keys
from diffrec_tui.screens.sweep.setup import SOURCE, SweepList, SweepSetup

POLL_SECONDS = 1.0  # re-read an active sweep this often
ACTIVE = ("running", "starting")


class SweepScreen(Panes, Screen):
    CSS_PATH = "sweep.tcss"
    PANES = ("#sweep-setup", "#sweep-main")  # one at a time on a narrow terminal
    pane = 1  # the results first
    BINDINGS = [
        Binding("ctrl+l", "launch", "Launch", id="sweep.launch"),
        Binding("ctrl+t", "stop", "Stop", id="sweep.stop"),
        Binding("f4", "resume", "Resume", id="sweep.resume"),
        Binding("ctrl+o", "load_space", "Load file", id="sweep.load"),
        Binding("ctrl+b", "promote", "Best→editor", id="sweep.promote"),
        Binding("r", "open_runs", "In Runs", id="sweep.open_runs"),
        Binding("i", "inspect", "Inspect", id="sweep.inspect"),
        Binding("p", "next_param", "Plot param", id="sweep.next_param"),
        Binding("o", "open_sweep", "Open sweep", id="sweep.open", show=False),
        Binding("f5", "reload", "Reload", id="sweep.reload", show=False),
        Binding("escape", "leave_field", "Leave field", id="sweep.leave_field", show=False),
        PANE_BINDING,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.current: Path | None = None  # the sweep shown
        self.info: SweepInfo | None = None
        self.param: str | None = None  # the scatter's x, or a CURVES key: the best-so-far curve
        self._drawn: tuple | None = None

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield NavBar("sweep")
        with Horizontal(id="sweep-body"):
            yield SweepSetup(not self.app.is_headless, id="sweep-setup")
            with Vertical(id="sweep-main"):
                yield SweepStatus(id="sweep-status")
                yield TrialTable(id="sweep-table", cursor_type="row", zebra_stripes=True)
                with Horizontal(id="sweep-plot-bar"):
                    yield Static("valid metric against", classes="sweep-label")
                    yield Select([], id="sweep-param", allow_blank=True, prompt="parameter", compact=True)
                yield TrialScatter(empty="no finished trial yet", id="sweep-scatter")
                yield BestCurve(empty="no finished trial yet", integer_x=True, yfmt=".4f", id="sweep-best")
        yield KeyBar()

    @property
    def setup(self) -> SweepSetup:
        return self.query_one(SweepSetup)

    @property
    def table(self) -> TrialTable:
        return self.query_one(TrialTable)

    @property
    def sweep_list(self) -> SweepList:
        return self.query_one(SweepList)

    @property
    def space_name(self) -> str:
        return self.setup.space_name

    # the app owns the coordinators; these read its records of them
    @property
    def procs(self) -> dict:
        return self.app.sweeps.procs

    @property
    def exit_codes(self) -> dict:
        return self.app.sweeps.exit_codes

    def on_mount(self) -> None:
        self.show_pane(self.pane)
        self.setup.show_check()
        self.draw()
        self.reload_list()
        self.set_interval(POLL_SECONDS, self._poll)
        self.app.sweep_ended.subscribe(self, self._ended)
        # no sweep yet: the setup's first field (base, then file, then the space, top to
        # bottom); a listed sweep moves focus to its trial table once loaded
        self.query_one("#sweep-base").focus()

    def on_screen_resume(self) -> None:
        self.call_after_refresh(self.action_reload)

    def on_input_submitted(self, event) -> None:
        if event.input.id == "sweep-file":
            self.action_load_space()

    def error(self, message: str) -> None:
        """An action's error, shown inline under the space until the next edit."""
        self.setup.error(message)

    # ------------------------------------------------------------ sweeps list

    def reload_list(self) -> None:
        self.sweep_list.reload(self.app.runs_dir, self._status)

    def on_sweep_list_loaded(self, event: SweepList.Loaded) -> None:
        if self.current is None and event.listed:  # show the latest sweep: usually the one the user came back for
            self.open_sweep(event.listed[0].path)
            self.table.focus()

    def on_data_table_row_selected(self, event) -> None:
        if event.data_table is self.sweep_list:
            self.open_sweep(Path(event.row_key.value))
        elif event.data_table is self.table:
            self.action_open_runs()

    # ------------------------------------------------------------ the shown sweep

    def open_sweep(self, path: Path, load_space: bool = True) -> None:
        try:
            info = load_sweep(path)
        except ConfigError as exc:
            self.error(str(exc))
            return
        self.current, self.info, self._drawn = Path(path), info, None
        if load_space:
            text = info.meta.get("hyper_text") or "\n".join(
                tuning.Param.from_dict(d).describe() for d in info.meta.get("space", []))
            self.setup.show_space(text, info.meta.get("name") or "sweep")
        keys = self.plot_keys(info)
        select = self.query_one("#sweep-param", Select)
        select.set_options([(CURVES.get(k, k), k) for k in keys])
        first = "@trial" if info.meta.get("strategy") == "bayes" else keys[0]  # bayes: what the search bought
        self.param = self.param if self.param in keys else first
        if self.param is not None:
            select.value = self.param
        self.draw(force=True)

    def _status(self, info: SweepInfo) -> str:
        """The sweep's status, knowing the processes the app started."""
        coordinators = self.app.sweeps
        if info.status in ("pending", "running") and any(t.status == "running" for t in info.trials):
            return "running"  # the trials say so: the list and the table agree
        if info.status == "pending" and coordinators.starting(info.path):
            return "starting"
        if info.status in ("pending", "stopped") and coordinators.refused(info.path):
            return "not started"
        return info.status

    def active(self) -> bool:
        return self.info is not None and self._status(self.info) in ACTIVE

    def refresh_sweep(self) -> None:
        if self.current is None:
            return
        try:
            self.info = load_sweep(self.current)
        except ConfigError as exc:
            self.error(str(exc))
            return
        self.draw()

    def draw(self, force: bool = False) -> None:
        info = self.info
        if info is None:
            self.query_one(SweepStatus).show_empty()
            self.show_plot()
            return
        status = self._status(info)
        key = (status, tuple((t.index, t.status, t.value, t.epochs, t.seconds) for t in info.trials), self.param)
        if key == self._drawn and not force:
            return
        self._drawn = key
        self.query_one(SweepStatus).show(info, status)
        self.table.show(info)
        self.show_plot()

    def current_trial(self) -> TrialInfo | None:
        return self.table.current_trial(self.info)

    # ------------------------------------------------------------ scatter

    @staticmethod
    def plot_keys(info: SweepInfo) -> list[str]:
        """What the plot can show: each parameter of the space, then the best-so-far curves."""
        return [*space_keys(info), *CURVES]

    def show_plot(self) -> None:
        """The scatter against a parameter, or the best-so-far curve (one shows at a time)."""
        scatter, curve = self.query_one(TrialScatter), self.query_one(BestCurve)
        on_curve = self.param in CURVES
        scatter.display, curve.display = not on_curve, on_curve
        if on_curve:
            curve.show_sweep(self.info, self.param)
        else:
            scatter.show_sweep(self.info, self.param)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "sweep-param" and isinstance(event.value, str) and event.value != self.param:
            self.param = event.value
            self.show_plot()

    def action_next_param(self) -> None:
        if self.info is None:
            self.notify("no sweep shown", severity="warning")
            return
        keys = self.plot_keys(self.info)
        if not keys:
            return
        nxt = keys[(keys.index(self.param) + 1) % len(keys)] if self.param in keys else keys[0]
        self.query_one("#sweep-param", Select).value = nxt  # on_select_changed redraws

    # ------------------------------------------------------------ polling

    def _poll(self) -> None:
        if self.app.screen is self and self.active():
            self.refresh_sweep()

    def _ended(self, ended: tuple[Path, int]) -> None:
        """A coordinator the app started exited (the app said how): refresh what shows it."""
        path, _ = ended
        if path == self.current:
            self.refresh_sweep()
            self.refresh_bindings()
        if self.app.screen is self:
            self.reload_list()

    # ------------------------------------------------------------ actions

    def action_leave_field(self) -> None:
        self.set_focus(None)  # so that single keys act as bindings again

    def action_reload(self) -> None:
        self.reload_list()
        self.refresh_sweep()

    def action_open_sweep(self) -> None:
        key = self.sweep_list.current_key()
        if key is None:
            self.notify("no sweep under the runs directory yet", severity="warning")
            return
        self.open_sweep(Path(key))

    def action_load_space(self) -> None:
        name = self.setup.load_file()
        if name is not None:
            self.notify(f"loaded {name}", title="Space")

    def action_launch(self) -> None:
        setup = self.setup
        try:
            trials, workers = setup.trial_count(), setup.worker_count()
            base, origin, note = sweeps.base_config(setup.base, self.app.draft)
            sd, notes = sweeps.create(self.app.runs_dir, setup.space_name, setup.text, base, trials,
                                      hyper_file=setup.unchanged_file(), source=SOURCE, search=setup.search,
                                      prune=setup.choice("prune"))
            notes = ([note] if note else []) + notes
        except (ConfigError, InputError) as exc:
            self.error(str(exc))
            return
        if not self._launch(sd.path, workers):
            return
        setup.clear_error()
        for note in notes:
            self.notify(note, title="Sweep", severity="warning")
        self.notify(f"{sweeps.label(sd.path)} on {origin}: it runs in the background (ctrl+t stops it)",
                    title="Sweep launched")
        self.reload_list()
        self.open_sweep(sd.path, load_space=False)
        self.table.focus()

    def _launch(self, path: Path, workers: int | None) -> bool:
        try:
            self.app.launch_sweep(path, workers, self.setup.choice("backend"))
        except OSError as exc:
            self.error(f"cannot start the sweep process: {exc}")
            return False
        return True

    def action_resume(self) -> None:
        info = self.info
        if info is None:
            self.error("resume: open a sweep first (list, enter)")
            return
        if self.active():
            self.error(f"resume: {sweeps.label(info.path)} is still running")
            return
        if not info.todo:
            self.error(f"resume: every trial of {sweeps.label(info.path)} is done")
            return
        try:
            workers = self.setup.worker_count()
        except InputError as exc:
            self.error(str(exc))
            return
        if self._launch(info.path, workers):
            self.notify(f"resuming {sweeps.label(info.path)}", title="Sweep")
            self.draw(force=True)

    def action_stop(self) -> None:
        info = self.info
        if info is None or not self.active():
            self.notify("no running sweep shown", severity="warning")
            return
        if self.app.sweeps.stop(info):
            self.notify(f"stopping {sweeps.label(info.path)}: running trials stop at the next batch "
                        "(press again to kill them)", title="Sweep")
        else:
            self.notify(f"{sweeps.label(info.path)}: its process is not running", severity="warning")

    def action_promote(self) -> None:
        if self.info is None:
            self.notify("no sweep shown", severity="warning")
            return
        try:
            cfg, origin = sweeps.best_config(self.info)
        except (ConfigError, InputError) as exc:
            self.notify(str(exc), title="No best config", severity="error")
            return
        self.app.edit_config(cfg, origin=origin, notice=f"{origin} is in the editor (unsaved)")

    def _trial_run(self) -> TrialInfo | None:
        t = self.current_trial()
        if t is None:
            self.notify("no trial selected", severity="warning")
            return None
        if t.run is None or not t.run.is_dir():
            self.notify(f"trial {t.index} has no run directory ({t.reason or t.status})", severity="warning")
            return None
        return t

    def action_open_runs(self) -> None:
        t = self._trial_run()
        if t is not None:
            self.app.highlighted_run = t.run
            self.app.action_page("runs")

    def action_inspect(self) -> None:
        if not any(p.mode == "inspect" for p in self.app.pages()):
            self.notify("the Inspect screen is not available in this version", severity="warning")
            return
        t = self._trial_run()
        if t is not None:
            self.app.highlighted_run = t.run
            self.app.action_page("inspect")
