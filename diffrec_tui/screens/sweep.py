"""Sweep screen: write or load a search space (RecBole's hyper.test), launch it on the
editor's config, watch its trials, plot the validation metric against a parameter, open a
trial in the Runs or Inspect screen, and promote the best config to the editor.

The sweep runs in its own process (diffrec_tui.sweeps.launch); this screen re-reads the
sweep directory on a timer while it is active, and redraws only what changed.
"""
from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Select, Static, TextArea

from engine.search import space as tuning
from engine.errors import ConfigError, InputError
from engine.records.sweeps import SweepInfo, TrialInfo, load_sweep

from diffrec_tui import sweeps
from diffrec_tui.text import STATUS_STYLE, seconds_cell
from diffrec_tui.text import trial_keys as _headline
from diffrec_tui.widgets.keybar import KeyBar
from diffrec_tui.widgets.nav import NavBar
from diffrec_tui.widgets.scatter import Scatter, ScatterChart

POLL_SECONDS = 1.0  # re-read an active sweep this often
SOURCE = "hyper.test"  # how messages name the space being edited


ORDER = ("running", "finished", "stopped", "failed", "dead", "skipped", "pending")  # how counts read


def short(metric: str) -> str:
    """'recall@20' -> 'R@20', 'ndcg@20' -> 'N@20' (column titles; the status line spells them)."""
    name, _, k = metric.partition("@")
    return f"{ {'recall': 'R', 'ndcg': 'N', 'precision': 'P', 'mrr': 'MRR'}.get(name, name)}@{k}"


def _num(v) -> str:
    return f"{v:.4f}" if isinstance(v, (int, float)) else "-"


class SweepScreen(Screen):
    CSS_PATH = "sweep.tcss"
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
    ]

    def __init__(self) -> None:
        super().__init__()
        self.current: Path | None = None  # the sweep shown
        self.info: SweepInfo | None = None
        self.procs: dict[Path, subprocess.Popen] = {}  # coordinators this screen started
        self.exit_codes: dict[Path, int] = {}
        self.param: str | None = None  # the scatter's x
        self.space_name = "sweep"  # names a new sweep's directory
        self.hyper_file: str | None = None  # the file the space was loaded from, if any
        self._drawn: tuple | None = None
        self._listed: list[SweepInfo] = []
        self._message = ""  # an error from the last action, shown under the space

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        blink = not self.app.is_headless
        yield Header(show_clock=False)
        yield NavBar("sweep")
        with Horizontal(id="sweep-body"):
            with Vertical(id="sweep-setup"):
                with Horizontal(classes="sweep-row"):
                    yield Static("base", classes="sweep-label")
                    yield self._input("sweep-base", "blank: the editor's config, or a YAML path", blink)
                with Horizontal(classes="sweep-row"):
                    yield Static("file", classes="sweep-label")
                    yield self._input("sweep-file", "path/to/hyper.test, then ctrl+o", blink)
                area = TextArea(sweeps.TEMPLATE, id="sweep-space", show_line_numbers=True, soft_wrap=False,
                                tab_behavior="focus", compact=True)
                area.cursor_blink = blink
                yield area
                yield Static(id="sweep-check")
                with Horizontal(classes="sweep-row"):
                    yield Static("trials", classes="sweep-label")
                    yield self._input("sweep-trials", "grid", blink)
                    yield Static("workers", classes="sweep-label")
                    yield self._input("sweep-workers", "auto", blink)
                yield Static(id="sweep-list-title")
                yield DataTable(id="sweep-list", cursor_type="row")
            with Vertical(id="sweep-main"):
                yield Static(id="sweep-status")
                yield DataTable(id="sweep-table", cursor_type="row", zebra_stripes=True)
                with Horizontal(id="sweep-plot-bar"):
                    yield Static("valid metric against", classes="sweep-label")
                    yield Select([], id="sweep-param", allow_blank=True, prompt="parameter", compact=True)
                yield ScatterChart(empty="no finished trial yet", id="sweep-scatter")
        yield KeyBar()

    @staticmethod
    def _input(wid: str, placeholder: str, blink: bool) -> Input:
        inp = Input(placeholder=placeholder, id=wid, compact=True)
        inp.cursor_blink = blink
        return inp

    @property
    def table(self) -> DataTable:
        return self.query_one("#sweep-table", DataTable)

    @property
    def sweep_list(self) -> DataTable:
        return self.query_one("#sweep-list", DataTable)

    @property
    def space_text(self) -> str:
        return self.query_one("#sweep-space", TextArea).text

    def on_mount(self) -> None:
        self.sweep_list.add_columns("sweep", "status", "best")
        self.show_check()
        self.reload_list()
        if self._listed:  # show the latest sweep: usually the one the user came back for
            self.open_sweep(self._listed[0].path)
        else:
            self.draw()
        self.set_interval(POLL_SECONDS, self._poll)
        (self.table if self.current else self.query_one("#sweep-space")).focus()

    def on_screen_resume(self) -> None:
        self.call_after_refresh(self.action_reload)

    # ------------------------------------------------------------ the space editor

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._message = ""
        self.show_check()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("sweep-trials", "sweep-workers"):
            self._message = ""
            self.show_check()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "sweep-file":
            self.action_load_space()

    def _trials(self) -> int | None:
        return sweeps.parse_count(self.query_one("#sweep-trials", Input).value, "trials")

    def _workers(self) -> int | None:
        return sweeps.parse_count(self.query_one("#sweep-workers", Input).value, "workers")

    def show_check(self) -> None:
        """The space's first problem (with its line) or what a launch would run, and the
        last action's error."""
        try:
            trials, counts_error = self._trials(), ""
            self._workers()
        except InputError as exc:
            trials, counts_error = None, str(exc)
        check = sweeps.check_space(self.space_text, trials, source=SOURCE)
        if check.error or counts_error:
            text = f"[b $error]✗[/] [$error]{escape(check.error or counts_error)}[/]"
        else:
            text = f"[b $success]✓[/] {escape(check.summary)} (ctrl+l launches)"
        if self._message:
            text += f"\n[$error]{escape(self._message)}[/]"
        self.query_one("#sweep-check", Static).update(text)

    def error(self, message: str) -> None:
        """An action's error, shown inline under the space until the next edit."""
        self._message = message
        self.show_check()

    # ------------------------------------------------------------ sweeps list

    def reload_list(self) -> None:
        self._listed = sweeps.list_sweeps(self.app.runs_dir)
        table = self.sweep_list
        key = None
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        table.clear()
        for info in self._listed:
            best = info.best
            done = sum(1 for t in info.trials if t.status in ("finished", "failed", "skipped"))
            table.add_row(sweeps.label(info.path), f"{self._status(info)} {done}/{len(info.trials)}",
                          _num(best.value) if best else "-", key=str(info.path))
        if key is not None and any(str(i.path) == key for i in self._listed):
            table.move_cursor(row=table.get_row_index(key), animate=False)
        root = self.app.runs_dir
        self.query_one("#sweep-list-title", Static).update(
            f"[b]sweeps[/b] in {escape(root.name or str(root))}/ ({len(self._listed)}): enter or o opens")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "sweep-list":
            self.open_sweep(Path(event.row_key.value))
        elif event.data_table.id == "sweep-table":
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
            self.query_one("#sweep-space", TextArea).load_text(text.rstrip("\n") + "\n")
            self.space_name = info.meta.get("name") or "sweep"
            self.hyper_file = None
        keys = [d["key"] for d in info.meta.get("space", [])]
        select = self.query_one("#sweep-param", Select)
        select.set_options([(k, k) for k in keys])
        self.param = self.param if self.param in keys else (keys[0] if keys else None)
        if self.param is not None:
            select.value = self.param
        self.draw(force=True)

    def _status(self, info: SweepInfo) -> str:
        """The sweep's status, knowing the processes this screen started."""
        proc = self.procs.get(info.path)
        if info.status == "pending" and proc is not None and proc.poll() is None:
            return "starting"
        code = self.exit_codes.get(info.path)
        if info.status in ("pending", "stopped") and code == 2:
            return "not started"
        return info.status

    def running_sweeps(self) -> list[Path]:
        """Sweeps whose coordinator this screen started and which are still running."""
        return [path for path, proc in self.procs.items() if proc.poll() is None]

    def stop_all(self) -> None:
        """Ask every coordinator this screen started to stop (used when the app quits)."""
        for path in self.running_sweeps():
            self.procs[path].send_signal(signal.SIGINT)

    def active(self) -> bool:
        return self.info is not None and self._status(self.info) in ("running", "starting")

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
            self._draw_empty()
            return
        key = (self._status(info), tuple((t.index, t.status, t.value, t.epochs, t.seconds) for t in info.trials),
               self.param)
        if key == self._drawn and not force:
            return
        self._drawn = key
        self._draw_status(info)
        self._draw_table(info)
        self.draw_scatter()

    def _draw_empty(self) -> None:
        self.query_one("#sweep-status", Static).update(
            "[b]no sweep shown[/b]: write a space on the left (or load a hyper.test file) and press ctrl+l, "
            "or open a sweep from the list")
        self.query_one("#sweep-scatter", ScatterChart).show(Scatter([], [], title="valid metric"))

    def _draw_status(self, info: SweepInfo) -> None:
        status = self._status(info)
        counts = info.counts()
        meta = info.meta
        what = f"{meta.get('strategy', '?')} of {len(info.trials)} trials"
        style = {"running": "$accent", "starting": "$accent", "finished": "$success", "stopped": "$warning",
                 "not started": "$error"}.get(status, "")
        hint = {"stopped": ": f4 resumes it", "running": ": ctrl+t stops it"}.get(status, "")
        lines = [f"[b]{escape(sweeps.label(info.path))}[/b]  [b {style}]{status}[/]{hint}  ·  {escape(what)}, "
                 f"best by valid {info.metric}",
                 ", ".join(f"{counts[s]} {s}" for s in ORDER if s in counts)]
        best = info.best
        if best is None:
            lines.append(f"best by valid {info.metric}: none finished yet")
        else:
            test = ", ".join(f"{k} {_num(best.test.get(k))}" for k in _headline(info) if k in best.test)
            lines.append(f"best: trial {best.index}, valid {info.metric} [b]{_num(best.value)}[/b] (test {escape(test)})")
            lines.append(f"  {escape(tuning.format_params(best.params))}  [dim]ctrl+b puts it in the editor[/dim]")
        dead = next((t for t in info.trials if t.status == "dead"), None)
        if dead is not None:  # its worker is gone without a final event: say why, as worker.log does
            lines.append(f"[$error]trial {dead.index} dead: {escape(dead.reason)}[/]")
        if status == "not started":
            lines.append(f"[$error]{escape(sweeps.log_tail(info.path, 1))}[/]")
        self.query_one("#sweep-status", Static).update("\n".join(lines))

    def _draw_table(self, info: SweepInfo) -> None:
        table = self.table
        keys = [d["key"] for d in info.meta.get("space", [])]
        heads = _headline(info)
        columns = ("#", "status", *keys, "ep", f"valid {short(info.metric)}", *(f"test {short(k)}" for k in heads),
                   "s")
        current = self.current_trial()
        if tuple(str(c.label) for c in table.columns.values()) != columns:
            table.clear(columns=True)
            table.add_columns(*columns)
        else:
            table.clear()
        best = info.best
        for t in sweeps.ranked(info):
            style = "bold" if best is not None and t.index == best.index else ""
            cells = [str(t.index), Text(t.status, style=STATUS_STYLE.get(t.status, "")),
                     *(tuning.format_value(t.params.get(k)) for k in keys), str(t.epochs or "-"),
                     _num(t.value), *(_num(t.test.get(k)) for k in heads),
                     seconds_cell(t)]
            table.add_row(*(Text(c, style=style) if isinstance(c, str) else c for c in cells), key=str(t.index))
        if current is not None:
            table.move_cursor(row=table.get_row_index(str(current.index)), animate=False)

    def current_trial(self) -> TrialInfo | None:
        table = self.table
        if self.info is None or not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None
        return next((t for t in self.info.trials if str(t.index) == key), None)

    # ------------------------------------------------------------ scatter

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "sweep-param" and isinstance(event.value, str) and event.value != self.param:
            self.param = event.value
            self.draw_scatter()

    def draw_scatter(self) -> None:
        chart = self.query_one("#sweep-scatter", ScatterChart)
        info, key = self.info, self.param
        if info is None or key is None:
            chart.show(Scatter([], [], title="valid metric"))
            return
        param = next((tuning.Param.from_dict(d) for d in info.meta.get("space", []) if d["key"] == key), None)
        xs, ys, idx = sweeps.scatter_points(info, key)
        categories = None
        if param is not None and param.kind == "choice":
            values = list(param.values)
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            categories = sorted(values) if numeric else values
        best = info.best
        mark = idx.index(best.index) if best is not None and best.index in idx else None
        chart.show(Scatter(xs, ys, title=f"valid {info.metric} against {key} ({len(xs)} finished trials)",
                           xlabel=key, categories=categories, log=param is not None and param.kind == "loguniform",
                           highlight=mark, highlight_label=f"best (trial {best.index})" if mark is not None else ""))

    def action_next_param(self) -> None:
        if self.info is None:
            self.notify("no sweep shown", severity="warning")
            return
        keys = [d["key"] for d in self.info.meta.get("space", [])]
        if not keys:
            return
        nxt = keys[(keys.index(self.param) + 1) % len(keys)] if self.param in keys else keys[0]
        self.query_one("#sweep-param", Select).value = nxt  # on_select_changed redraws

    # ------------------------------------------------------------ polling

    def _poll(self) -> None:
        for path, proc in list(self.procs.items()):
            code = proc.poll()
            if code is None or path in self.exit_codes:
                continue
            self.exit_codes[path] = code
            self._ended(path, code)
        if self.app.screen is self and self.active():
            self.refresh_sweep()

    def _ended(self, path: Path, code: int) -> None:
        """A coordinator this screen started exited: say how, refresh what shows it."""
        name = sweeps.label(path)
        if code == 2:  # bad input: its one-line message is the log's last line
            self.notify(f"{name} did not start: {sweeps.log_tail(path, 1)}", title="Sweep", severity="error")
        elif code == 130:
            self.notify(f"{name} stopped; f4 resumes it", title="Sweep", severity="warning")
        elif code == 0:
            self.notify(f"{name} finished; ctrl+b puts its best config in the editor", title="Sweep")
        else:
            self.notify(f"{name}: no trial finished (exit {code}); see {path.name}/{sweeps.LOG_FILE}",
                        title="Sweep", severity="error")
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
        table = self.sweep_list
        if not table.row_count:
            self.notify("no sweep under the runs directory yet", severity="warning")
            return
        self.open_sweep(Path(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))

    def action_load_space(self) -> None:
        text = self.query_one("#sweep-file", Input).value.strip()
        if not text:
            self.error("file: type the path of a hyper.test file first")
            self.query_one("#sweep-file", Input).focus()
            return
        path = Path(text).expanduser()
        try:
            content = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.error(f"file: not found: {text}")
            return
        except (OSError, UnicodeDecodeError) as exc:
            self.error(f"file: cannot read {text} ({exc.__class__.__name__})")
            return
        self.query_one("#sweep-space", TextArea).load_text(content)
        self.space_name, self.hyper_file = path.stem or "sweep", str(path.resolve())
        self.notify(f"loaded {path.name}", title="Space")

    def action_launch(self) -> None:
        try:
            trials, workers = self._trials(), self._workers()
            base, origin, note = sweeps.base_config(self.query_one("#sweep-base", Input).value, self.app.draft)
            text = self.space_text
            hyper_file = self.hyper_file if self._unchanged_file(text) else None
            sd, notes = sweeps.create(self.app.runs_dir, self.space_name, text, base, trials,
                                      hyper_file=hyper_file, source=SOURCE)
            notes = ([note] if note else []) + notes
        except (ConfigError, InputError) as exc:
            self.error(str(exc))
            return
        try:
            self.procs[sd.path] = sweeps.launch(sd.path, workers)
        except OSError as exc:
            self.error(f"cannot start the sweep process: {exc}")
            return
        self._message = ""
        self.show_check()
        for note in notes:
            self.notify(note, title="Sweep", severity="warning")
        self.notify(f"{sweeps.label(sd.path)} on {origin}: it runs in the background (ctrl+t stops it)",
                    title="Sweep launched")
        self.reload_list()
        self.open_sweep(sd.path, load_space=False)
        self.table.focus()

    def _unchanged_file(self, text: str) -> bool:
        if not self.hyper_file:
            return False
        try:
            return Path(self.hyper_file).read_text(encoding="utf-8") == text
        except OSError:
            return False

    def action_resume(self) -> None:
        info = self.info
        if info is None:
            self.error("resume: open a sweep first (list, enter)")
            return
        if self.active():
            self.error(f"resume: {sweeps.label(info.path)} is still running")
            return
        if all(t.status in ("finished", "skipped") for t in info.trials):
            self.error(f"resume: every trial of {sweeps.label(info.path)} is done")
            return
        try:
            workers = self._workers()
            self.procs[info.path] = sweeps.launch(info.path, workers)
        except InputError as exc:
            self.error(str(exc))
            return
        except OSError as exc:
            self.error(f"cannot start the sweep process: {exc}")
            return
        self.exit_codes.pop(info.path, None)
        self.notify(f"resuming {sweeps.label(info.path)}", title="Sweep")
        self.draw(force=True)

    def action_stop(self) -> None:
        info = self.info
        if info is None or not self.active():
            self.notify("no running sweep shown", severity="warning")
            return
        if sweeps.stop(info, self.procs.get(info.path)):
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
        self.app.edit_config(cfg, origin=origin)
        self.notify(f"{origin} is in the editor (unsaved)", title="Config")

    def _trial_run(self) -> TrialInfo | None:
        t = self.current_trial()
        if t is None:
            self.notify("no trial selected", severity="warning")
            return None
        if t.run is None or not t.run.is_dir():
            why = t.reason or t.status
            self.notify(f"trial {t.index} has no run directory ({why})", severity="warning")
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
