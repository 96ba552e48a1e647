"""Issue 19: the Runs table's AppendTable keeps the rows it rendered when rows are appended,
and still shows the new rows, and re-renders them all when a new row widens a column."""
from __future__ import annotations

from textual.app import App, ComposeResult

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

        table.append_row("a-much-longer-run-name", "stopped", key="r4")  # widens the first column
        await pilot.pause()
        assert table._update_count > count
        assert table.columns["run"].content_width == len("a-much-longer-run-name")
        first = next(line for line in lines(table) if "run-0" in line)
        assert first.index("finished") > len("a-much-longer-run-name")  # the old rows moved over
        assert table.get_row_index("r4") == 4 and table.cursor_row == 0
