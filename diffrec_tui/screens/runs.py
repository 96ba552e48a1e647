"""Runs screen: every run under the runs directory, sortable and filterable; select runs
to overlay their validation curves, two to diff their configs; open, attach, edit, delete.

The runs are listed in a thread worker through the run index (screens/runs_loading.py):
the first rows show as they are read, with a count, and a reload re-reads only the runs
that changed."""
from __future__ import annotations

import shutil
from pathlib import Path

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static

from engine.config import files as config_files

from diffrec_tui.live import valid_key
from diffrec_tui.overlay import next_key, overlay
from diffrec_tui.widgets.append_table import AppendTable
from diffrec_tui.widgets.charts import LineChart, step_cursor, values_text
from diffrec_tui.widgets.keybar import KeyBar
from diffrec_tui.widgets.nav import NavBar
from diffrec_tui.screens import runs_loading
from diffrec_tui.screens.dialogs import Confirm
from diffrec_tui.screens.run_groups import RunGroups
from diffrec_tui.screens.run_notes import RunNotes
from diffrec_tui.screens.run_rows import COLUMNS, SORT_KEYS, Row, _short, short_id
from diffrec_tui.screens.runs_loading import RunsLoading, scan  # noqa: F401  (scan: the Inspect picker's listing)

REFRESH_SECONDS = 3.0  # re-read the runs directory this often while a listed run is active
DIFF_ROWS = 14


class RunsScreen(RunGroups, RunNotes, RunsLoading, Screen):
    BINDINGS = [
        Binding("space", "toggle_select", "Select", id="runs.select"),
        Binding("enter", "open_run", "Open", id="runs.open", show=False),
        Binding("a", "attach", "Attach/open", id="runs.attach"),
        Binding("e", "edit_config", "Edit config", id="runs.edit"),
        Binding("u", "resume_run", "Resume", id="runs.resume", show=False),
        Binding("d", "delete", "Delete", id="runs.delete"),
        Binding("o", "sort", "Sort", id="runs.sort"),
        Binding("greater_than_sign", "sort(1)", "Sort next column", show=False, id="runs.sort_next"),
        Binding("less_than_sign", "sort(-1)", "Sort previous column", show=False, id="runs.sort_prev"),
        Binding("N", "name_run", "Name/note", id="runs.name"),
        Binding("r", "reverse", "Reverse", id="runs.reverse"),
        Binding("m", "overlay_metric", "Metric", id="runs.overlay_metric"),
        Binding("comma", "cursor(-1)", "Cursor ←", show=False, id="runs.cursor_prev"),
        Binding("full_stop", "cursor(1)", "Cursor →", show=False, id="runs.cursor_next"),
        Binding("slash", "filter", "Filter", id="runs.filter"),
        Binding("c", "clear_selection", "Clear sel.", id="runs.clear"),
        Binding("f5", "reload", "Reload", id="runs.reload"),
        Binding("n", "more", "More rows", id="runs.more", show=False),
        Binding("escape", "leave_filter", "Leave filter", show=False, id="runs.leave_filter"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Row] = []
        self.selected: list[str] = []  # run ids, in the order they were selected
        self.sort_key = "started"
        self.folded: set[str] = set()  # sweeps whose trials are folded under their group row
        self._groups: dict = {}  # the group rows shown, by table key
        self.overlay_key: str | None = None  # the overlay's metric@K (m), else the valid_metric
        self.descending = True
        self.query_text = ""
        self._shown = 0  # rows that pass the filter
        self.init_loading()
        self._target: Path | None = None  # a run to put the cursor on once it is shown

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield NavBar("runs")
        inp = Input(placeholder="/ filter runs: words to match (model, dataset, status, id...)", id="runs-filter",
                    compact=True)
        inp.cursor_blink = not self.app.is_headless
        yield inp
        yield Static(id="runs-summary")
        yield AppendTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="runs-compare"):
            yield LineChart("valid metric per run", "epoch", empty="select runs with space to overlay them",
                            integer_x=True, id="overlay-chart")
            yield Static(id="runs-diff")
        yield KeyBar()

    @property
    def table(self) -> DataTable:
        return self.query_one("#runs-table", DataTable)

    def on_mount(self) -> None:
        for title, key in COLUMNS:
            self.table.add_column(title, key=key or "mark")
        self.set_interval(REFRESH_SECONDS, self._auto_reload)
        self.watch(self.table, "scroll_y", lambda _: self._pull(), init=False)  # a mouse wheel nears them too
        self.render_compare()  # the panel's hint before the first listing is in
        self.table.focus()

    def on_screen_resume(self) -> None:
        # Paint the screen as it was first, then re-read the runs directory.
        self.call_after_refresh(self._resumed)

    def _resumed(self) -> None:
        self._target = self.app.highlighted_run
        self.reload(again=False)
        self.show_highlighted()

    def show_highlighted(self) -> None:
        """Put the cursor on the run another screen chose (a sweep's trial) when the screen
        was shown, once its row is in the table (a long table fills a chunk at a time)."""
        if self._target is None:
            return
        target = Path(self._target).resolve()
        root = Path(self.app.runs_dir).resolve()
        row = self._by_id.get(target.name if target.parent == root else f"{target.parent.name}/{target.name}")
        if row is not None and row.info.sweep in self.folded:  # a folded sweep's trial: unfold it
            self.folded.discard(row.info.sweep)
            self.render_table()  # its fill calls this again
            return
        if row is not None and row.id not in self._table_ids:
            self.bring(row.id)  # a row the table defers: its fill calls this again
        if row is None or row.id not in self._table_ids:
            return
        self._target = None
        if row is not self.current_row():
            self.table.move_cursor(row=self.table.get_row_index(row.id), animate=False)

    def _auto_reload(self) -> None:
        if self.app.screen is self and not self.scanning and any(r.status == "running" for r in self.rows):
            self.reload()

    # ------------------------------------------------------------ data

    def render_summary(self) -> None:
        """The line above the table; a dead or failed run under the cursor adds why it ended."""
        arrow = "↓" if self.descending else "↑"
        text = (f"{self.shown_runs(self._shown)} of {len(self.rows)} runs in "
                f"[b]{escape(self.app.runs_dir.name or str(self.app.runs_dir))}[/b]"
                f"  ·  sorted by {self.sort_key} {arrow}  ·  {len(self.selected)} selected")
        if self.scanning and self._progress[1]:
            text += f"  ·  [$accent]reading runs: {self._progress[0]} of {self._progress[1]}[/]"
        elif self._pending:
            text += f"  ·  [$accent]showing {len(self._table_ids)} so far[/]"
        elif self._due() < self._shown:
            text += f"  ·  the first {self._due()} in the table: n shows {runs_loading.TABLE_ROWS} more"
        row = self.current_row()
        if row is not None and row.status == "pruned":  # a sweep's pruner stopped it: at which evaluation
            text += f"  ·  [$warning]pruned: {escape(row.info.reason)}[/]"
        elif row is not None and row.status in ("dead", "failed", "broken"):
            text += f"  ·  [$error]{row.status}: {escape(row.info.reason)}[/]"
        if row is not None and row.note:
            text += f"  ·  note: {escape(row.note)}"
        self.query_one("#runs-summary", Static).update(text, layout=False)  # one line, fixed size: no reflow

    def current_row(self) -> Row | None:
        """The run under the cursor (None on a sweep's group row)."""
        key = self.cursor_key()
        return None if key is None else self._by_id.get(key)

    def render_compare(self) -> None:
        chosen = [self._by_id[i] for i in self.selected if i in self._by_id]
        key, series = overlay([r.info for r in chosen], self.overlay_key, short_id)
        chart = self.query_one("#overlay-chart", LineChart)
        chart.show(series, title=f"valid {key} per run")
        at = values_text([chart], chart.cursor)  # the exact values at the cursor (, .), above the diff
        self.query_one("#runs-diff", Static).update("\n\n".join(x for x in (at, self.diff_text(chosen)) if x))

    def action_cursor(self, step: int) -> None:
        chart = self.query_one("#overlay-chart", LineChart)
        chart.set_cursor(step_cursor(chart.cursor_xs(), chart.cursor, step))
        self.render_compare()

    def diff_text(self, chosen: list[Row]) -> str:
        if len(chosen) != 2:
            return "[dim]select exactly two runs (space) to see how their configs differ[/]"
        a, b = chosen
        d = config_files.diff(a.info.config, b.info.config)
        lines = [f"[b]config diff[/b]  A = {escape(short_id(a.info.id))}   B = {escape(short_id(b.info.id))}"]
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
        self._pull()  # rows past the view go in as the cursor nears them
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
        self.more_rows()

    def action_sort(self, step: int = 1) -> None:
        """Sort by the next (step 1: o, >) or previous (<) column, left to right."""
        self.sort_key = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + step) % len(SORT_KEYS)]
        self.render_table()

    def action_overlay_metric(self) -> None:
        self.overlay_key = next_key([self._by_id[i].info for i in self.selected if i in self._by_id], self.overlay_key)
        self.render_compare()

    def action_reverse(self) -> None:
        self.descending = not self.descending
        self.render_table()

    def action_toggle_select(self) -> None:
        if self.toggle_group():
            return
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
        if self.toggle_group():
            return
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


