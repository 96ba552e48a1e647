"""The comparison view: run groups of a --compare, mean ± SD, marks against the best, bars
with error bars, the per-user difference histogram of two selected models."""
from __future__ import annotations

from comparison_fixture import make
from textual.widgets import DataTable, Static
from tui_helpers import SIZE, make_app, wait_for

from diffrec_tui.screens.comparison import ComparisonScreen, bars, histogram


async def open_view(pilot):
    pilot.app.action_comparison()
    def ready():
        screen = pilot.app.screen
        return isinstance(screen, ComparisonScreen) and any(t.row_count == 4 for t in screen.query(DataTable))

    await wait_for(pilot, ready, what="the view")
    await pilot.pause(0.1)


async def select_two(pilot):
    await pilot.press("space", "down", "space")  # Pop and EASE
    await wait_for(pilot, lambda: len(pilot.app.screen.selected) == 2, what="two models")
    await pilot.pause(0.2)


def test_comparison_view_snapshot(snap_compare, tmp_path):
    """Four models over three seeds; Pop and EASE selected: their per-user differences."""
    make(tmp_path / "runs")

    async def run_before(pilot):
        await open_view(pilot)
        await select_two(pilot)

    assert snap_compare(make_app(tmp_path / "runs"), terminal_size=SIZE, run_before=run_before)


async def test_selection_metric_switch_and_marks(tmp_path):
    path = make(tmp_path / "runs")
    app = make_app(tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await open_view(pilot)
        screen = pilot.app.screen
        table = screen.query_one("#cmp-table", DataTable)
        rows = {table.get_row_at(i)[1]: table.get_row_at(i) for i in range(table.row_count)}
        assert rows["EASE"][4] == "best"  # best mean validation recall@20
        assert rows["Pop"][6] == "*" and "reg_weight=500" in rows["EASE"][7]
        assert screen.selected == []
        await select_two(pilot)
        hist = str(screen.query_one("#cmp-hist", Static).render())
        assert "Pop - EASE, test R@20" in hist and "150 users" in hist
        await pilot.press("m")
        await pilot.pause(0.1)
        assert screen.key == "ndcg@20" and "test N@20" in str(screen.query_one("#cmp-bars", Static).render())
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert not isinstance(pilot.app.screen, ComparisonScreen)
    assert path.is_dir()


async def test_no_comparison_yet(tmp_path):
    app = make_app(tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        pilot.app.action_comparison()
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ComparisonScreen)
                       and pilot.app.screen.query("#cmp-title"), what="the view")
        await pilot.pause(0.2)
        assert "No comparisons" in str(pilot.app.screen.query_one("#cmp-title", Static).render())


def test_bars_and_histogram_text():
    rows = {"A": {"test": {"k": {"mean": 0.2, "sd": 0.05}}}, "B": {"test": {"k": {"mean": 0.4, "sd": None}}}}
    text = bars(rows, "k", "B", width=10).splitlines()
    assert "├" in text[1] and "┤" in text[1] and "0.2000 ± 0.0500" in text[1]
    assert text[2].count("█") == 10 and "A ████├─┤ " in text[1]  # scale: the highest bar or error bar
    h = histogram([0.0, 0.0, 0.5, -0.5], "A - B", bins=3, width=4).splitlines()
    assert "1 better, 1 worse, 2 equal" in h[0] and h[2].endswith(" 2") and len(h) == 4
