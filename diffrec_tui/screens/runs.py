"""Runs screen: every run under the runs directory, sortable and filterable; select runs
to overlay their validation curves, two to diff their configs; open, attach, edit, delete.

The runs are listed by the run index (engine.run_index) in a thread worker: the first rows
show as they are read, with a count, and a reload re-reads only the runs that changed.
Thousands of rows go into the table a chunk at a time, so keys are answered meanwhile."""
from __future__ import annotations

import shutil
import time
from functools import partial
from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static
from textual.worker import get_current_worker

from engine import config as config_mod
from engine.run_index import RunIndex

from ..live import valid_key
from ..widgets.charts import LineChart, Series
from ..widgets.keybar import KeyBar
from ..widgets.nav import NavBar
from .dialogs import Confirm
from .run_rows import COLUMNS, SORT_KEYS, Row, _short, matches, row_for, rows_for, short_id

REFRESH_SECONDS = 3.0  # re-read the runs directory this often while a listed run is active
DIFF_ROWS = 14
STREAM_SECONDS = 0.1  # the first load hands rows to the table this often
FILL_ROWS = 50  # rows added to the table per turn of the event loop (a key waits at most that long)
FILL_PAUSE = 0.002
TABLE_ROWS = 1000  # rows the table holds at first (the top of the sort and filter); `m` adds as many


def scan(root: Path, cache: dict) -> list[Row]:
    """Every run's row under `root`, newest first, through the run index (cached in `cache`)."""
    return rows_for(RunIndex.shared(root).stream(), cache)


class RunsArrived(Message):
    """The listing worker read more runs (the first load shows them as they come)."""

    def __init__(self, rows: list[Row], done: int, total: int):
        super().__init__()
        self.rows, self.done, self.total = rows, done, total


class RunsScanned(Message):
    """The listing worker is done: every run, newest first."""

    def __init__(self, rows: list[Row], streamed: bool, error: str | None = None):
        super().__init__()
        self.rows, self.streamed, self.error = rows, streamed, error


class RunsScreen(Screen):
    BINDINGS = [
        Binding("space", "toggle_select", "Select", id="runs.select"),
        Binding("enter", "open_run", "Open", id="runs.open", show=False),
        Binding("a", "attach", "Attach/open", id="runs.attach"),
        Binding("e", "edit_config", "Edit config", id="runs.edit"),
        Binding("u", "resume_run", "Resume", id="runs.resume", show=False),
        Binding("d", "delete", "Delete", id="runs.delete"),
        Binding("o", "sort", "Sort", id="runs.sort"),
        Binding("r", "reverse", "Reverse", id="runs.reverse"),
        Binding("slash", "filter", "Filter", id="runs.filter"),
        Binding("c", "clear_selection", "Clear sel.", id="runs.clear"),
        Binding("f5", "reload", "Reload", id="runs.reload"),
        Binding("m", "more", "More rows", id="runs.more", show=False),
        Binding("escape", "leave_filter", "Leave filter", show=False, id="runs.leave_filter"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Row] = []
        self.selected: list[str] = []  # run ids, in the order they were selected
        self.sort_key = "started"
        self.descending = True
        self.query_text = ""
        self._shown = 0  # rows that pass the filter
        self._rowcache: dict = {}  # the listing worker's rows, reused while a run is unchanged
        self._by_id: dict[str, Row] = {}
        self.scanning = False  # the listing worker is reading the runs directory
        self._again = False  # a reload was asked for while it was
        self._progress = (0, 0)  # runs read, runs found
        self._pending: list[Row] = []  # rows still to go into the table
        self._table_ids: list[str] = []  # the rows in the table, in order
        self._fill_gen = 0
        self._limit = TABLE_ROWS  # rows the table may hold
        self._keep_cursor: str | None = None
        self._target: Path | None = None  # a run to put the cursor on once it is shown

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield NavBar("runs")
        inp = Input(placeholder="/ filter runs: words to match (model, dataset, status, id...)", id="runs-filter",
                    compact=True)
        inp.cursor_blink = not self.app.is_headless
        yield inp
        yield Static(id="runs-summary")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="runs-compare"):
            yield LineChart("valid metric per run", "epoch", empty="select runs with space to overlay them",
                            id="overlay-chart")
            yield Static(id="runs-diff")
        yield KeyBar()

    @property
    def table(self) -> DataTable:
        return self.query_one("#runs-table", DataTable)

    def on_mount(self) -> None:
        for title, key in COLUMNS:
            self.table.add_column(title, key=key or "mark")
        self.set_interval(REFRESH_SECONDS, self._auto_reload)
        self.table.focus()

    def on_screen_resume(self) -> None:
        # Paint the screen as it was first, then re-read the runs directory.
        self.call_after_refresh(self._resumed)

    def _resumed(self) -> None:
        self._target = self.app.highlighted_run
        self.reload()
        self.show_highlighted()

    def show_highlighted(self) -> None:
        """Put the cursor on the run another screen chose (a sweep's trial) when the screen
        was shown, once its row is in the table (a long table fills a chunk at a time)."""
        if self._target is None:
            return
        target = Path(self._target).resolve()
        root = Path(self.app.runs_dir).resolve()
        row = self._by_id.get(target.name if target.parent == root else f"{target.parent.name}/{target.name}")
        if row is None or row.id not in self._table_ids:
            return
        self._target = None
        if row is not self.current_row():
            self.table.move_cursor(row=self.table.get_row_index(row.id), animate=False)

    def _auto_reload(self) -> None:
        if self.app.screen is self and not self.scanning and any(r.status == "running" for r in self.rows):
            self.reload()

    # ------------------------------------------------------------ data

    def reload(self) -> None:
        """Re-read the runs directory in a worker; the index reads only the runs that changed."""
        if self.scanning:
            self._again = True
            return
        self.scanning, self._again = True, False
        self.run_worker(partial(self._scan, Path(self.app.runs_dir), not self.rows), thread=True,
                        group="runs-scan", exit_on_error=False)

    def _scan(self, root: Path, stream: bool) -> None:
        """Worker: every run's row, newest first; on the first load, handed over as they come."""
        worker = get_current_worker()
        rows, new, sent, last = [], {}, 0, 0.0
        progress = [0, 0]

        def note(done: int, total: int) -> None:
            progress[:] = [done, total]
        try:
            for info in RunIndex.shared(root).stream(progress=note):
                rows.append(row_for(info, self._rowcache, new))
                if worker.is_cancelled:
                    return
                if stream and time.monotonic() - last > STREAM_SECONDS:
                    self.post_message(RunsArrived(rows[sent:], *progress))
                    sent, last = len(rows), time.monotonic()
        except Exception as exc:  # a listing must never take the screen down
            self.post_message(RunsScanned([], stream, f"cannot list {root}: {exc}"))
            return
        self._rowcache = new
        self.post_message(RunsScanned(rows, stream))

    def on_runs_arrived(self, msg: RunsArrived) -> None:
        self.rows = self.rows + msg.rows
        self._by_id.update((r.id, r) for r in msg.rows)
        self._progress = (msg.done, msg.total)
        shown = [r for r in msg.rows if matches(r, self.query_text)]
        self._shown += len(shown)
        self._queue(shown[:max(0, self._limit - len(self._table_ids) - len(self._pending))])
        self.render_summary()

    def _queue(self, rows: list[Row]) -> None:
        """Append rows to the table, starting a fill when none is under way."""
        idle = not self._pending
        self._pending.extend(rows)
        if idle and rows:
            self._fill_step(self._fill_gen)

    def on_runs_scanned(self, msg: RunsScanned) -> None:
        self.scanning = False
        if msg.error:
            self.notify(msg.error, severity="error")
        changed = [id(r) for r in msg.rows] != [id(r) for r in self.rows]
        self.rows = msg.rows
        self._by_id = {r.id: r for r in self.rows}
        self.selected = [i for i in self.selected if i in self._by_id]
        if msg.streamed:
            self._streamed_tail()
        elif changed:
            self.render_table()
            self.render_compare()
        else:
            self.render_summary()
        if self._again:
            self.reload()

    def _streamed_tail(self) -> None:
        """After a first load: the table holds the rows in reading order (newest first by
        name); queue the rest if that is also the order shown, else refill it."""
        visible, have = self.visible(), self._table_ids + [r.id for r in self._pending]
        if [r.id for r in visible[:len(have)]] != have:
            self.render_table()
            return
        self._shown = len(visible)
        self._queue(visible[len(have):self._limit])
        self.render_summary()

    @property
    def settled(self) -> bool:
        """Every run read and every row due in the table is there."""
        return not self.scanning and not self._pending

    def visible(self) -> list[Row]:
        rows = [r for r in self.rows if matches(r, self.query_text)]
        key = self.sort_key
        return sorted(rows, key=lambda r: (isinstance(r.sort[key], str), r.sort[key]), reverse=self.descending)

    def render_table(self) -> None:
        """Refill the table in the current order and filter: the top chunk at once, the rest a
        chunk per turn of the event loop."""
        current = self.current_row()
        if current is not None:
            self._keep_cursor = current.id
        self.table.clear()
        self._table_ids = []
        visible = self.visible()
        self._pending = visible[:self._limit]
        self._shown = len(visible)
        self._fill_gen += 1
        self._fill_step(self._fill_gen)
        self.render_summary()

    def _fill_step(self, gen: int) -> None:
        if gen != self._fill_gen:
            return  # a newer fill took over
        table = self.table
        chunk, self._pending = self._pending[:FILL_ROWS], self._pending[FILL_ROWS:]
        for r in chunk:
            table.add_row(self._mark(r), *r.cells, key=r.id)
            self._table_ids.append(r.id)
        if self._keep_cursor is not None and any(r.id == self._keep_cursor for r in chunk):
            table.move_cursor(row=table.get_row_index(self._keep_cursor), animate=False)
            self._keep_cursor = None
        if self._pending:
            self.set_timer(FILL_PAUSE, partial(self._fill_step, gen))
        else:
            self.render_summary()
            self.show_highlighted()

    def _mark(self, row: Row) -> Text:
        return Text("●", style="bold") if row.id in self.selected else Text(" ")

    def render_summary(self) -> None:
        """The line above the table; a dead or failed run under the cursor adds why it ended."""
        arrow = "↓" if self.descending else "↑"
        text = (f"{self._shown} of {len(self.rows)} runs in "
                f"[b]{escape(self.app.runs_dir.name or str(self.app.runs_dir))}[/b]"
                f"  ·  sorted by {self.sort_key} {arrow}  ·  {len(self.selected)} selected")
        if self.scanning and self._progress[1]:
            text += f"  ·  [$accent]reading runs: {self._progress[0]} of {self._progress[1]}[/]"
        elif self._pending:
            text += f"  ·  [$accent]showing {len(self._table_ids)} so far[/]"
        elif len(self._table_ids) < self._shown:
            text += f"  ·  the first {len(self._table_ids)} in the table: m shows {TABLE_ROWS} more"
        row = self.current_row()
        if row is not None and row.status in ("dead", "failed", "broken"):
            text += f"  ·  [$error]{row.status}: {escape(row.info.reason)}[/]"
        self.query_one("#runs-summary", Static).update(text)

    def current_row(self) -> Row | None:
        table = self.table
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None
        return self._by_id.get(key)

    def render_compare(self) -> None:
        chosen = [self._by_id[i] for i in self.selected if i in self._by_id]
        chart = self.query_one("#overlay-chart", LineChart)
        key = valid_key(chosen[0].info.keys) if chosen else "recall@20"
        series = []
        for r in chosen:
            evals = [e for e in r.info.events if e["type"] == "eval" and key in (e.get("valid") or {})]
            series.append(Series(_label(r.info.id), [e["epoch"] for e in evals], [e["valid"][key] for e in evals]))
        chart.show(series, title=f"valid {key} per run")
        self.query_one("#runs-diff", Static).update(self.diff_text(chosen))

    def diff_text(self, chosen: list[Row]) -> str:
        if len(chosen) != 2:
            return "[dim]select exactly two runs (space) to see how their configs differ[/]"
        a, b = chosen
        d = config_mod.diff(a.info.config, b.info.config)
        lines = [f"[b]config diff[/b]  A = {escape(_label(a.info.id))}   B = {escape(_label(b.info.id))}"]
        if not d:
            lines.append("identical configs")
        for k, (va, vb) in list(d.items())[:DIFF_ROWS]:
            lines.append(f"{escape(k):<18} A {escape(_short(va)):<12} B {escape(_short(vb))}")
        if len(d) > DIFF_ROWS:
            lines.append(f"... and {len(d) - DIFF_ROWS} more")
        return "\n".join(lines)

    # ------------------------------------------------------------ events

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "runs-filter":
            self.query_text = event.value
            self.render_table()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = self.current_row()
        self.app.highlighted_run = row.info.path if row else None
        self.render_summary()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_run()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = event.column_key.value
        if key in SORT_KEYS:
            self.descending = not self.descending if key == self.sort_key else True
            self.sort_key = key
            self.render_table()

    # ------------------------------------------------------------ actions

    def action_filter(self) -> None:
        self.query_one("#runs-filter", Input).focus()

    def action_leave_filter(self) -> None:
        self.table.focus()

    def action_reload(self) -> None:
        self.reload()

    def action_more(self) -> None:
        """Let the table hold TABLE_ROWS more of the rows that pass the filter."""
        if len(self._table_ids) + len(self._pending) < self._shown:
            self._limit += TABLE_ROWS
            have = len(self._table_ids) + len(self._pending)
            self._queue(self.visible()[have:self._limit])
            self.render_summary()

    def action_sort(self) -> None:
        self.sort_key = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]
        self.render_table()

    def action_reverse(self) -> None:
        self.descending = not self.descending
        self.render_table()

    def action_toggle_select(self) -> None:
        row = self.current_row()
        if row is None:
            return
        if row.id in self.selected:
            self.selected.remove(row.id)
        else:
            self.selected.append(row.id)
        self.table.update_cell(row.id, "mark", self._mark(row))
        self.render_summary()
        self.render_compare()

    def action_clear_selection(self) -> None:
        was, self.selected = self.selected, []
        for run_id in was:
            if run_id in self._table_ids:
                self.table.update_cell(run_id, "mark", self._mark(self._by_id[run_id]))
        self.render_summary()
        self.render_compare()

    def action_open_run(self) -> None:
        row = self.current_row()
        if row is not None:
            self.app.open_run(row.info.path)

    def action_attach(self) -> None:
        self.action_open_run()

    def action_resume_run(self) -> None:
        """Continue the highlighted stopped or failed run from its last evaluation."""
        row = self.current_row()
        if row is None:
            return
        if row.status in ("running", "finished", "broken"):
            self.notify(f"{row.id} is {row.status}: only a stopped or failed run resumes", severity="warning")
            return
        self.app.resume_run(row.info.path)

    def action_edit_config(self) -> None:
        row = self.current_row()
        if row is None:
            return
        if not row.info.config:
            self.notify(f"{row.id} has no readable config: {row.info.reason or 'it is empty'}", severity="error")
            return
        self.app.edit_config(row.info.config, origin=f"from run {row.id}")

    def action_delete(self) -> None:
        row = self.current_row()
        if row is None:
            return
        if row.info.status == "running":  # asked afresh: it may have ended since the listing
            self.notify(f"{row.id} is still running: stop it first (open it, then x)", severity="warning")
            return

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.delete(row.info.path)

        self.app.push_screen(Confirm(f"Delete run {row.id} and all its files (checkpoint, events, log)?",
                                     yes="Delete", no="Keep"), confirmed)

    def delete(self, path: Path) -> None:
        root = Path(self.app.runs_dir).resolve()
        path = Path(path).resolve()
        if path.parent != root:  # never remove anything outside the runs directory
            self.notify(f"refusing to delete {path}: not a run under {root}", severity="error")
            return
        self.app.forget_run(path)
        shutil.rmtree(path, ignore_errors=True)
        self.notify(f"deleted {path.name}")
        self.reload()


_label = short_id
