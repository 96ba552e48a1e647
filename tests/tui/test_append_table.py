"""Issue 19: the Runs table's AppendTable keeps the rows it rendered when rows are appended
or one row's cells are set, and still shows the change; a column that gets wider has its
cells re-rendered, and the other cells move over without being rendered again."""
from __future__ import annotations

from textual.app import App, ComposeResult
from textual.cache import LRUCache

from diffrec_tui.widgets.append_table import AppendTable


class TableApp(App):
    CSS = "AppendTable { height: 7; }"  # a fixed height, as the Runs table's (a resize re-renders it all)

    def compose(self) -> ComposeResult:
        yield AppendTable(cursor_type="row")


def lines(table: AppendTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_appended_rows_show_and_the_rows_in_view_are_not_rendered_again():
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        table = app.query_one(AppendTable)
        table.add_column("run", key="run")
        table.add_column("status", key="status")
        for i in range(3):
            table.append_row(f"run-{i}", "finished", key=f"r{i}")
        await pilot.pause()
        count = table._update_count
        calls = []
        render = table._render_line_in_row
        table._render_line_in_row = lambda *a, **k: calls.append(a[0]) or render(*a, **k)
        table.append_row("run-3", "failed", key="r3")  # no wider than the others
        await pilot.pause()
        assert table._update_count == count  # the rendered rows' caches stay valid
        shown = lines(table)
        assert any("run-3" in line and "failed" in line for line in shown)
        assert [line for line in shown if "run-0" in line]
        assert {table.get_row_index(key) for key in calls} == {3}, "only the new row is rendered"

        cells = rendered(table)
        table.append_row("a-much-longer-run-name", "stopped", key="r4")  # widens the first column
        await pilot.pause()
        assert table.columns["run"].content_width == len("a-much-longer-run-name")
        first = next(line for line in lines(table) if "run-0" in line)
        assert first.index("finished") > len("a-much-longer-run-name")  # the old rows moved over
        assert table.get_row_index("r4") == 4 and table.cursor_row == 0
        old = {(r, c) for r, c in cells() if r in ("r0", "r1", "r2", "r3")}
        assert {c for _, c in old} == {"run"}, "of the old rows only the widened column's cells are rendered"


class Recording(LRUCache):
    """The table's cell cache, noting each cell put in it (rendered) from now on."""

    def __init__(self, cache: LRUCache):
        super().__init__(cache.maxsize)
        for key in list(cache.keys()):
            super().set(key, cache.get(key))
        self.made: set[tuple] = set()

    def set(self, key, value) -> None:
        self.made.add((key[0].value, key[1].value))
        super().set(key, value)
    __setitem__ = set


def rendered(table: AppendTable):
    """A function giving the (row, column) keys of the cells rendered since this call."""
    table._cell_render_cache = cache = Recording(table._cell_render_cache)
    return lambda: cache.made


async def test_a_row_updated_in_place_is_the_only_one_rendered_again():
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        table = app.query_one(AppendTable)
        table.add_column("run", key="run")
        table.add_column("status", key="status")
        for i in range(4):
            table.append_row(f"run-{i}", "ok", key=f"r{i}")
        await pilot.pause()
        count, cells = table._update_count, rendered(table)
        table.update_row("r2", ["run-2", "no"])  # as wide as before
        await pilot.pause()
        assert table._update_count == count
        assert any("run-2" in line and "no" in line for line in lines(table))
        assert {r for r, _ in cells()} == {"r2"}, "only the updated row is rendered"

        cells = rendered(table)
        table.update_row("r1", ["run-1", "finished"])  # widens the status column
        await pilot.pause()
        shown = lines(table)
        assert any("run-1" in line and "finished" in line for line in shown)
        assert table.columns["status"].content_width == len("finished")
        assert {(r, c) for r, c in cells() if r != "r1"} == {(None, "status"), ("r0", "status"), ("r2", "status"),
                                                             ("r3", "status")}, \
            "the other rows render their status cell (now wider) alone"
        table.update_row("r1", ["run-1", "finished"])  # unchanged: nothing to do
        assert table._row_render_cache and table.get_cell("r1", "status") == "finished"
