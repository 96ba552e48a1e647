"""How the Runs screen gets its rows: the run index (engine.records.run_index) lists in a thread
worker, the first load hands rows over as they are read, and rows go into the DataTable
a chunk per turn of the event loop, so keys are answered meanwhile. The first load reads
the runs in the order the table shows them (each sweep's trials after its newest one,
under its group row: run_groups.sweeps_together), so the rows in view stay where they are
when the listing ends (a refill would render every one again); only the group rows'
counts change, in place. The table holds the top TABLE_ROWS rows of the sort and filter
(Textual's DataTable recomputes its row offsets on every update: ten thousand rows in it
would slow every later key); more_rows adds as many.

RunsLoading is the screen's half that does this; the screen provides `table`, `rows`,
`visible()`, `selected`, `query_text`, `render_summary()`, `render_compare()` and
`show_highlighted()`."""
from __future__ import annotations

import gc
import time
from functools import partial
from pathlib import Path

from rich.text import Text
from textual.message import Message
from textual.worker import get_current_worker

from engine.records.run_index import RunIndex

from diffrec_tui.screens.run_groups import GROUP_PREFIX, GroupRow, grouped, sweeps_together, with_groups
from diffrec_tui.screens.run_rows import Row, matches, row_for, rows_for

STREAM_SECONDS = 0.1  # the first load hands rows to the table this often
FILL_ROWS = 40  # rows added to the table per turn of the event loop below its view (each is measured)
VIEW_ROWS = 5  # and in its view (a row in view is rendered too), each chunk painted before the next:
VIEW_PAUSE = 0.02  # a frame (Textual paints at 60 Hz)
FILL_PAUSE = 0.002
WORK_SLICE = 0.002  # the listing worker pauses this often (it shares the interpreter with the event loop)
YIELD_SECONDS = 0.0005
FIRST_ROWS = 100  # rows the table takes before any is looked at (over a screenful)
AHEAD_ROWS = 100  # and as many past the cursor and the view as they move down
TABLE_ROWS = 500  # rows the table holds at first (the top of the sort and filter); `n` adds as many


def ordered(rows: list[Row], state: tuple) -> tuple[list, dict]:
    """The rows shown for order_state() `state`, in table order, and the sweeps' group rows."""
    query, key, descending, folded = state
    return grouped([r for r in rows if matches(r, query)], key, descending, folded)


def scan(root: Path, cache: dict) -> list[Row]:
    """Every run's row under `root`, newest first, through the run index (cached in `cache`)."""
    return rows_for(RunIndex.shared(root).stream(), cache)


class ShownOrder:
    """The order a first listing reads the runs in (`order` for RunIndex.stream: the one
    the table shows them in, see sweeps_together), and back to the listing's own order
    (newest first by name) for the rows it read."""

    def __init__(self):
        self._arranged: list[str] = []
        self._at: dict[str, int] = {}

    def __call__(self, keys: list[str]) -> list[str]:
        self._at = {key: i for i, key in enumerate(keys)}
        self._arranged = sweeps_together(keys)
        return self._arranged

    def restore(self, rows: list) -> list:
        """`rows`, read in this order, in the listing's own."""
        at = [self._at[key] for key in self._arranged[:len(rows)]]
        return [rows[i] for i in sorted(range(len(rows)), key=at.__getitem__)]


class RunsArrived(Message):
    """The listing worker read more runs (the first load shows them as they come)."""

    def __init__(self, rows: list[Row], done: int, total: int):
        super().__init__()
        self.rows, self.done, self.total = rows, done, total


class RunsScanned(Message):
    """The listing worker is done: every run, newest first."""

    def __init__(self, rows: list[Row], streamed: bool, error: str | None = None, order: tuple | None = None,
                 by_id: dict | None = None):
        super().__init__()
        self.rows, self.streamed, self.error, self.order, self.by_id = rows, streamed, error, order, by_id


class RunsLoading:
    """The listing worker and the chunked table fill (see the module's docstring)."""

    def init_loading(self) -> None:
        self._rowcache: dict = {}  # the listing worker's rows, reused while a run is unchanged
        self._by_id: dict[str, Row] = {}
        self.scanning = False  # the listing worker is reading the runs directory
        self._again = False  # a reload was asked for while it was
        self._progress = (0, 0)  # runs read, runs found
        self._pending: list[Row] = []  # rows still to go into the table
        self._deferred: list[Row] = []  # rows after those, taken as the view nears them (_pull)
        self._table_ids: list[str] = []  # the rows in the table, in order
        self._fill_gen = 0
        self._limit = TABLE_ROWS  # rows the table may hold
        self._keep_cursor: str | None = None
        self._order: tuple | None = None  # (order_state(), rows, visible rows, groups) made by the worker

    def reload(self, again: bool = True) -> None:
        """Re-read the runs directory in a worker; the index reads only the runs that changed.
        Asked while a listing is under way: once more after it, unless `again` is False (the
        listing under way started a moment ago, e.g. the screen was shown twice)."""
        if self.scanning:
            self._again = self._again or again
            return
        self.scanning, self._again = True, False
        self.run_worker(partial(self._scan, Path(self.app.runs_dir), not self.rows), thread=True,
                        group="runs-scan", exit_on_error=False)

    def _scan(self, root: Path, stream: bool) -> None:
        """Worker: every run's row, newest first; on the first load, handed over as they come."""
        worker = get_current_worker()
        rows, new, sent, last = [], {}, 0, 0.0
        progress = [0, 0]
        shown = ShownOrder() if stream else None

        def note(done: int, total: int) -> None:
            progress[:] = [done, total]
        gc.freeze()
        slice_end = time.perf_counter() + WORK_SLICE
        try:
            for info in RunIndex.shared(root).stream(progress=note, order=shown):
                rows.append(row_for(info, self._rowcache, new))
                if worker.is_cancelled:
                    return
                if time.perf_counter() > slice_end:  # let the event loop have the interpreter
                    time.sleep(YIELD_SECONDS)
                    slice_end = time.perf_counter() + WORK_SLICE
                if stream and time.monotonic() - last > STREAM_SECONDS:
                    self.post_message(RunsArrived(rows[sent:], *progress))
                    sent, last = len(rows), time.monotonic()
                    gc.freeze()
        except Exception as exc:  # a listing must never take the screen down
            self.post_message(RunsScanned([], stream, f"cannot list {root}: {exc}"))
            return
        self._rowcache = new
        rows = shown.restore(rows) if shown else rows
        state = self.order_state()  # the table's order, made here rather than on the UI thread
        order = (state, rows, *ordered(rows, state))
        by_id = {r.id: r for r in rows}
        gc.freeze()
        self.post_message(RunsScanned(rows, stream, order=order, by_id=by_id))

    def on_runs_arrived(self, msg: RunsArrived) -> None:
        self.rows = self.rows + msg.rows
        self._by_id.update((r.id, r) for r in msg.rows)
        self._progress = (msg.done, msg.total)
        shown = with_groups([r for r in msg.rows if matches(r, self.query_text)], self._groups, self.folded)
        self._shown += len(shown)
        self._queue(shown[:max(0, self._limit - self._due())])
        for sweep in {r.info.sweep for r in msg.rows if r.info.sweep}:  # their trial counts grew
            group = self._groups.get(GROUP_PREFIX + sweep)
            if group is not None and group.id in self.table.rows:
                self._set_cells(group)
        self.render_summary()

    def _queue(self, rows: list[Row]) -> None:
        """Append rows to the table: those the view needs now, the others once it nears them."""
        self._deferred.extend(rows)
        self._pull()

    def _due(self) -> int:
        """Rows the table holds, is being filled with, or takes as the view nears them."""
        return len(self._table_ids) + len(self._pending) + len(self._deferred)

    def _pull(self, through: int = -1) -> None:
        """Fill the table with deferred rows up to AHEAD_ROWS past the cursor and the view
        (FIRST_ROWS at least), or through row `through`, once under half of AHEAD_ROWS are
        left past them; start a fill when none is under way.
        Every row added costs the table a measure and a repaint of the rows in view, so
        rows nobody looks at yet stay out of it."""
        table = self.table
        view_end = max(table.cursor_row, round(table.scroll_y) + table.size.height)
        have = len(self._table_ids) + len(self._pending)
        if not self._deferred or have >= max(FIRST_ROWS, view_end + AHEAD_ROWS // 2, through + 1):
            return  # still half the margin ahead: rows go in by the batch, not one per key
        room = max(FIRST_ROWS, view_end + AHEAD_ROWS, through + 1) - have
        idle = not self._pending
        self._pending.extend(self._deferred[:room])
        del self._deferred[:room]
        if idle:
            self._fill_step(self._fill_gen)

    def bring(self, row_id: str) -> None:
        """Fill the table through a deferred row (one the cursor is to go to)."""
        ids = [r.id for r in self._deferred]
        if row_id in ids:
            self._pull(through=len(self._table_ids) + len(self._pending) + ids.index(row_id))

    def on_runs_scanned(self, msg: RunsScanned) -> None:
        self.scanning = False
        if msg.error:
            self.notify(msg.error, severity="error")
        changed = [id(r) for r in msg.rows] != [id(r) for r in self.rows]
        before = self._by_id
        self.rows = msg.rows
        self._order = msg.order
        self._by_id = msg.by_id if msg.by_id is not None else {r.id: r for r in self.rows}
        self.selected = [i for i in self.selected if i in self._by_id]
        if msg.streamed:
            self._streamed_tail()
            if self.selected:  # runs chosen while the rows came in (else the panel shows its hint already)
                self.render_compare()
        elif changed:
            if not self._update_in_place(before):
                self.render_table()
            self.render_compare()
        else:
            self.render_summary()
        if self._again:
            self.reload()

    def _streamed_tail(self) -> None:
        """After a first load: the table holds the rows in reading order (newest first by
        name); queue the rest if that is also the order shown, else refill it."""
        visible = self.visible()
        have = self._table_ids + [r.id for r in self._pending] + [r.id for r in self._deferred]
        if [r.id for r in visible[:len(have)]] != have:
            self.render_table()
            return
        n, due = len(self._table_ids), len(self._table_ids) + len(self._pending)
        self._pending, self._deferred = visible[n:due], visible[due:len(have)]  # the groups with every trial
        for row in visible[:n]:
            if isinstance(row, GroupRow):
                self._set_cells(row)
        self._shown = len(visible)
        self._queue(visible[len(have):self._limit])
        self.render_summary()

    def _update_in_place(self, before: dict) -> bool:
        """When the table still shows the top of the new order (a running run's epoch went
        by), update the cells of the rows that changed instead of refilling the table."""
        visible = self.visible()
        if self._pending or [r.id for r in visible[:len(self._table_ids)]] != self._table_ids:
            return False
        for row in visible[:len(self._table_ids)]:
            if before.get(row.id) is not row:
                self._set_cells(row)
        self._shown = len(visible)
        self._deferred = []
        self._queue(visible[len(self._table_ids):self._limit])
        self.render_summary()
        return True

    def order_state(self) -> tuple:
        """What the table's order depends on besides the rows."""
        return self.query_text, self.sort_key, self.descending, frozenset(self.folded)

    def visible(self) -> list[Row]:
        """The rows that pass the filter in the sort's order, sweeps grouped (run_groups); the
        listing worker's order while the rows and the state are the ones it ordered."""
        state, done = self.order_state(), self._order
        if done is not None and done[1] is self.rows and done[0] == state:
            out, self._groups = list(done[2]), done[3]
        else:
            out, self._groups = ordered(self.rows, state)
        return out

    @property
    def settled(self) -> bool:
        """Every run read and every row the view needs is in the table."""
        return not self.scanning and not self._pending

    def render_table(self) -> None:
        """Refill the table in the current order and filter: the top chunk at once, the rest a
        chunk per turn of the event loop."""
        current = self.current_row()
        if current is not None:
            self._keep_cursor = current.id
        self.table.clear()
        self._table_ids = []
        visible = self.visible()
        self._pending, self._deferred = [], visible[:self._limit]
        self._shown = len(visible)
        self._fill_gen += 1
        self._pull()
        if self._keep_cursor is not None:
            self.bring(self._keep_cursor)
        self.render_summary()

    def _fill_step(self, gen: int) -> None:
        if gen != self._fill_gen:
            return  # a newer fill took over
        table = self.table
        in_view = table.row_count < round(table.scroll_y) + table.size.height
        size = VIEW_ROWS if in_view else FILL_ROWS
        chunk, self._pending = self._pending[:size], self._pending[size:]
        for r in chunk:
            table.append_row(self._mark(r), *r.texts(), key=r.id)
            self._table_ids.append(r.id)
        if self._keep_cursor is not None and any(r.id == self._keep_cursor for r in chunk):
            table.move_cursor(row=table.get_row_index(self._keep_cursor), animate=False)
            self._keep_cursor = None
        if self._pending:  # rows in view painted first: a screenful at once is one long stall
            self.set_timer(VIEW_PAUSE if in_view else FILL_PAUSE, partial(self._fill_step, gen))
        else:
            self.render_summary()
            self.show_highlighted()
            self._pull()  # the view may have moved on meanwhile

    def _set_cells(self, row) -> None:
        """Update a row in the table (only that row is rendered again)."""
        self.table.update_row(row.id, [self._mark(row), *row.texts()])

    def _mark(self, row: Row) -> Text:
        return Text("●", style="bold") if row.id in self.selected else Text(" ")

    def more_rows(self) -> None:
        """Let the table hold TABLE_ROWS more of the rows that pass the filter."""
        if self._due() < self._shown:
            self._limit += TABLE_ROWS
            self._queue(self.visible()[self._due():self._limit])
            self.render_summary()
