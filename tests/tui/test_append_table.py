"""Issue 19: the Runs table's AppendTable keeps the rows it rendered when rows are appended
or one row's cells are set, and still shows the change; a column that gets wider has its
cells re-rendered, and the other cells move over without being rendered again."""
from __future__ import annotations

from textual.app import App, ComposeResult
from textual.cache import LRUCache
from textual.widgets import DataTable

from diffrec_tui.widgets.append_table import AppendTable


class TableApp(App):
    CSS = "AppendTable { height: 7; }"  # a fixed height, as the Runs table's (a resize re-renders it all)

    def compose(self) -> ComposeResult:
        yield AppendTable(cursor_type="row")


def lines(table: AppendTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


def runs_table(app: TableApp, rows: int, status: str) -> AppendTable:
    """The app's table with a run and a status column, and `rows` rows r0, r1, ... appended."""
    table = app.query_one(AppendTable)
    table.add_column("run", key="run")
    table.add_column("status", key="status")
    for i in range(rows):
        table.append_row(f"run-{i}", status, key=f"r{i}")
    return table


class Both(App):
    """An AppendTable and a plain DataTable made alike, to compare what they show."""

    def __init__(self, height: int | None = None, **options):
        super().__init__()
        self.height, self.options = height, options

    def compose(self) -> ComposeResult:
        for table in (AppendTable(id="ours", **self.options), DataTable(id="theirs", **self.options)):
            if self.height:
                table.styles.height = self.height  # fixed, as the Runs table's
            yield table

    def tables(self, rows: int = 0) -> tuple[AppendTable, DataTable]:
        """Both tables, each with a `run` column and `rows` rows r0, r1, ..."""
        ours, theirs = self.query_one("#ours", AppendTable), self.query_one("#theirs", DataTable)
        for table in (ours, theirs) if rows else ():
            table.add_column("run", key="run")
            for i in range(rows):
                table.add_row(f"run-{i}", key=f"r{i}")
        return ours, theirs


async def test_appended_rows_show_and_the_rows_in_view_are_not_rendered_again():
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        table = runs_table(app, 3, "finished")
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
        self.made.add((key[0].value, getattr(key[1], "value", key[1])))
        super().set(key, value)
    __setitem__ = set


def rendered(table: AppendTable, cache: str = "_cell_render_cache"):
    """A function giving the (row, column) keys of the cells rendered since this call (with
    `cache="_row_render_cache"`: (row, line) of the rows)."""
    recording = Recording(getattr(table, cache))
    setattr(table, cache, recording)
    return lambda: recording.made


async def test_a_row_updated_in_place_is_the_only_one_rendered_again():
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        table = runs_table(app, 4, "ok")
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
        table.update_row("r1", ["run-1", "no"])  # narrower: the column keeps its width
        await pilot.pause()
        assert table.columns["status"].content_width == len("finished")
        assert any("run-1" in line and "no" in line for line in lines(table))
        table.update_row("r1", ["run-1", "finished"])
        assert table._row_render_cache and table.get_cell("r1", "status") == "finished"


async def test_cells_are_the_segments_datatable_makes():
    """One-line Text cells are made without Rich's renderers: the same segments (text and
    style, the cell's row and column meta included) as DataTable's, under the cursor or
    not, on either zebra stripe; cells it cannot make (too wide, spans) go to DataTable."""
    from rich.segment import Segment
    from rich.text import Text

    app = TableApp()
    async with app.run_test(size=(60, 8)) as pilot:
        table = app.query_one(AppendTable)
        table.zebra_stripes = True
        for key in ("a", "b", "c"):
            table.add_column(key, key=key)
        table.append_row(Text("finished"), Text("▾ sweep hyper (3)", style="bold"), Text(""), key="r0")
        table.append_row(Text("↳ 20250101-000000"), Text("x", style="italic red"), Text("0.1234"), key="r1")
        table.append_row(Text.assemble("two ", ("styles", "bold")), Text("a\tb"), Text("-"), key="r2")
        await pilot.pause()
        table.columns["c"].width = table.columns["c"].content_width = 3  # "0.1234" no longer fits
        base = table.rich_style
        made = []
        for row in range(3):
            style = table._get_row_style(row, base)
            for column in range(3):
                for cursor in (False, True):
                    width = table.ordered_columns[column].get_render_width(table)
                    table._cell_render_cache.clear()
                    ours = table._render_cell(row, column, style, width, cursor=cursor)
                    made.append(table._one_line(row, column, style, width, cursor, False) is not None)
                    table._cell_render_cache.clear()
                    theirs = DataTable._render_cell(table, row, column, style, width, cursor=cursor)
                    assert [list(Segment.simplify(line)) for line in ours] == \
                           [list(Segment.simplify(line)) for line in theirs], (row, column, cursor)
                    assert ours[0][0].style.meta == {"row": row, "column": column}
        assert made.count(True) == 12 and made.count(False) == 6  # spans, a tab, and a cell too wide go to DataTable


async def test_columns_are_as_wide_as_datatable_makes_them():
    from rich.text import Text

    app = Both()
    async with app.run_test(size=(80, 20)) as pilot:
        ours, theirs = app.tables()
        rows = [("finished", Text(""), "x"), (Text("↳ hyper 20250101-000000"), Text("a\\nlonger line"), "yy"),
                (Text("wide 字字"), Text("b", style="bold"), Text.assemble("two ", ("styles", "bold")))]
        for table in (ours, theirs):
            for key in ("a", "b", "c"):
                table.add_column(key, key=key)
            for i, cells in enumerate(rows):
                table.add_row(*cells, key=f"r{i}")
        await pilot.pause()
        assert [c.content_width for c in ours.ordered_columns] == [c.content_width for c in theirs.ordered_columns]
        assert ours.virtual_size == theirs.virtual_size


async def test_a_cursor_move_renders_only_the_rows_it_leaves_and_reaches():
    app = Both(8, cursor_type="row", zebra_stripes=True)
    async with app.run_test(size=(40, 18)) as pilot:
        ours, theirs = app.tables(rows=6)
        ours.move_cursor(row=1)
        app.set_focus(None)  # both styled alike
        await pilot.pause()
        assert [s.text for s in map(ours.render_line, range(7))] == [s.text for s in map(theirs.render_line, range(7))]
        made = rendered(ours, "_row_render_cache")
        for table in (ours, theirs):
            table.move_cursor(row=3)
        await pilot.pause()
        for y in range(7):
            assert ours.render_line(y) == theirs.render_line(y), y  # text, colours, the cursor's row
        assert made() == {("r1", 0), ("r3", 0)}


async def test_a_scroll_renders_only_the_rows_it_brings_into_view():
    app = Both(6, cursor_type="row", zebra_stripes=True)
    async with app.run_test(size=(40, 14)) as pilot:
        ours, theirs = app.tables(rows=12)
        app.set_focus(None)
        for row in range(6):  # the cursor to the last row in view, then one more: a scroll
            for table in (ours, theirs):
                table.move_cursor(row=row)
            await pilot.pause()
        assert ours.scroll_y == theirs.scroll_y == 1
        calls = []
        render = ours._render_line_in_row
        ours._render_line_in_row = lambda *a, **k: calls.append(a[0].value) or render(*a, **k)
        for table in (ours, theirs):
            table.move_cursor(row=6)
        await pilot.pause()
        assert ours.scroll_y == theirs.scroll_y == 2
        for y in range(ours.size.height):
            assert ours.render_line(y) == theirs.render_line(y), y
        assert set(calls) == {"r5", "r6"}, "the row the cursor left and the one it reached (scrolled into view)"


async def test_rows_coming_in_move_the_scrollbar_without_a_layout_of_the_screen():
    app = Both(6)
    async with app.run_test(size=(40, 14)) as pilot:
        ours, theirs = app.tables()
        for table in (ours, theirs):
            table.add_column("run", key="run")

        def scrollbar(table):
            bar = table.vertical_scrollbar
            return table.show_vertical_scrollbar, bar.window_virtual_size, bar.window_size, table.max_scroll_y

        async def add(table, rows) -> int:
            """Screen layouts while `rows` go into `table`."""
            layouts = []
            refresh_layout = app.screen._refresh_layout
            app.screen._refresh_layout = lambda *a, **k: layouts.append(1) or refresh_layout(*a, **k)
            for i in rows:
                (table.append_row if table is ours else table.add_row)(f"run-{i}", key=f"r{i}")
            await pilot.pause()
            app.screen._refresh_layout = refresh_layout
            return len(layouts)
        for rows in (range(0, 3), range(3, 10), range(10, 30)):  # no scrollbar, it appears, it shrinks
            await add(ours, rows)
            await add(theirs, rows)
            assert scrollbar(ours) == scrollbar(theirs)
            assert [s.text for s in map(ours.render_line, range(6))] == \
                   [s.text for s in map(theirs.render_line, range(6))]
        assert scrollbar(ours)[:2] == (True, 31)
        assert await add(theirs, range(30, 40)) > 0  # a DataTable lays the screen out for its rows
        assert await add(ours, range(30, 40)) == 0
        assert scrollbar(ours) == scrollbar(theirs)
