"""Snapshot tests of every screen in its main states (pytest-textual-snapshot).

Fixed terminal size, canned runs (tests/tui/fixtures/runs, copied to tmp_path), UTC times,
no blinking cursor (the app turns blinking off when headless). Update the stored SVGs
with `pytest tests/tui/test_snapshots.py --snapshot-update` after a deliberate UI change.
"""
from __future__ import annotations

from textual.widgets import Input, Select

from tui_helpers import FINISHED, FINISHED_2, LARGE, MID_RUN, SIZE, SMALL, config_ready, make_app, wait_for


def test_config_with_validation_error(snap_compare, runs_dir):
    """noise_min above noise_max: the cross-field error shows under the field and in the
    status panel, which says a run cannot start."""
    async def run_before(pilot):
        await config_ready(pilot)
        pilot.app.screen.query_one("#field-noise_min", Input).value = "0.02"
        await wait_for(pilot, lambda: "noise_min" in pilot.app.draft.errors, what="the error")
        await pilot.pause()

    assert snap_compare(make_app(runs_dir), terminal_size=SIZE, run_before=run_before)


def test_config_schedule_preview(snap_compare, runs_dir):
    """A cosine schedule over 40 steps: the preview charts redraw from engine.schedule."""
    async def run_before(pilot):
        await config_ready(pilot)
        screen = pilot.app.screen
        screen.query_one("#field-noise_schedule", Select).value = "cosine"
        screen.query_one("#field-steps", Input).value = "40"
        await wait_for(pilot, lambda: pilot.app.draft.raw["steps"] == "40"
                       and pilot.app.draft.raw["noise_schedule"] == "cosine", what="the edits")
        await pilot.pause()

    assert snap_compare(make_app(runs_dir), terminal_size=SIZE, run_before=run_before)


async def show_train(pilot, run_dir) -> None:
    pilot.app.open_run(run_dir)
    await wait_for(pilot, lambda: pilot.app.screen_for("train") is not None
                   and pilot.app.screen_for("train").is_mounted, what="the train screen")
    await pilot.pause(0.3)


def test_train_mid_run(snap_compare, runs_dir):
    """A run still training (its pid is alive): progress with ETA, curves so far."""
    async def run_before(pilot):
        await show_train(pilot, runs_dir / MID_RUN)

    assert snap_compare(make_app(runs_dir, start="train"), terminal_size=SIZE, run_before=run_before)


def test_train_finished(snap_compare, runs_dir):
    """A finished run: full curves, best metrics at the default K, the event log."""
    async def run_before(pilot):
        await show_train(pilot, runs_dir / FINISHED)

    assert snap_compare(make_app(runs_dir, start="train"), terminal_size=SIZE, run_before=run_before)


async def select_two_runs(pilot) -> None:
    await wait_for(pilot, lambda: pilot.app.screen.table.row_count == 5 and pilot.app.screen.settled,
                   what="the runs table, listed to the end")
    screen = pilot.app.screen
    for run_id in (FINISHED, FINISHED_2):
        screen.table.move_cursor(row=screen.table.get_row_index(run_id), animate=False)
        await pilot.press("space")
    await wait_for(pilot, lambda: len(screen.selected) == 2, what="two selected runs")
    await pilot.pause(0.3)


def test_runs_table_compare_and_diff(snap_compare, runs_dir):
    """Two finished runs selected: their validation curves overlaid and their config diff."""
    assert snap_compare(make_app(runs_dir, start="runs"), terminal_size=SIZE, run_before=select_two_runs)


def test_help(snap_compare, runs_dir):
    """`?` lists the bindings of the app and of every screen (over the Train screen)."""
    async def run_before(pilot):
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "HelpScreen", what="help")
        await pilot.pause(0.3)

    assert snap_compare(make_app(runs_dir, start="train"), terminal_size=SIZE, run_before=run_before)


# ---------------------------------------------------------------- 80x24: every panel readable

async def test_config_80x24_layout(runs_dir):
    """80x24: the form and both preview charts (at least 8 rows each) fit, with integer step
    ticks and short y labels (test_config_80x24 is the snapshot)."""
    from textual.widgets import Input
    app = make_app(runs_dir)
    async with app.run_test(size=SMALL) as pilot:
        await config_ready(pilot)
        app.screen.query_one("#field-steps", Input).value = "10"
        await wait_for(pilot, lambda: app.draft.raw["steps"] == "10", what="the edit")
        await pilot.pause(0.3)
        screen = app.screen
        for cid in ("#beta-chart", "#abar-chart"):
            chart = screen.query_one(cid)
            assert chart.size.height >= 8 and chart.region.bottom <= 23, (cid, chart.region)
        assert screen.query_one("#form").size.width >= 40
        text = str(screen.query_one("#beta-chart").render())
        labels = [line.split("┤")[0].strip() for line in text.splitlines() if "┤" in line]
        assert labels and all(len(x) <= 8 and "e-0" in x for x in labels), labels  # not 0.00001000
        ticks = text.splitlines()[-2].split()  # the x axis's numbers, above its label
        assert ticks and all(t.isdigit() for t in ticks), ticks  # whole steps, never 2.25


def test_train_80x24(snap_compare, runs_dir):
    """One chart at a time (the valid metric's; f6 shows the next), legend above the data,
    integer epoch ticks, the log and the best table; help is first in the key bar."""
    async def run_before(pilot):
        await show_train(pilot, runs_dir / FINISHED)

    assert snap_compare(make_app(runs_dir, start="train"), terminal_size=SMALL, run_before=run_before)


def test_train_80x24_loss_pane(snap_compare, runs_dir):
    """f6 twice from the metric chart: past the second metric, round to the loss chart."""
    async def run_before(pilot):
        await show_train(pilot, runs_dir / FINISHED)
        await pilot.press("f6", "f6")
        await pilot.pause(0.3)

    assert snap_compare(make_app(runs_dir, start="train"), terminal_size=SMALL, run_before=run_before)


def test_runs_80x24(snap_compare, runs_dir):
    """Every run's row visible above a compare panel of 10 rows."""
    async def run_before(pilot):
        await wait_for(pilot, lambda: pilot.app.screen.table.row_count == 5 and pilot.app.screen.settled,
                       what="the runs table, listed to the end")
        await pilot.pause(0.3)

    assert snap_compare(make_app(runs_dir, start="runs"), terminal_size=SMALL, run_before=run_before)


def test_help_80x24(snap_compare, runs_dir):
    """The help fills the width and scrolls."""
    async def run_before(pilot):
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "HelpScreen", what="help")
        await pilot.pause(0.3)

    assert snap_compare(make_app(runs_dir, start="train"), terminal_size=SMALL, run_before=run_before)


def test_config_80x24(snap_compare, runs_dir):
    """80x24: the form beside the status box and both preview charts (8+ rows each)."""
    async def run_before(pilot):
        await config_ready(pilot)
        await pilot.pause(0.3)

    assert snap_compare(make_app(runs_dir), terminal_size=SMALL, run_before=run_before)


# ---------------------------------------------------------------- 200x60: the room is used

def test_config_200x60(snap_compare, runs_dir):
    async def run_before(pilot):
        await config_ready(pilot)
        await pilot.pause(0.3)

    assert snap_compare(make_app(runs_dir), terminal_size=LARGE, run_before=run_before)


def test_train_200x60(snap_compare, runs_dir):
    async def run_before(pilot):
        await show_train(pilot, runs_dir / FINISHED)

    assert snap_compare(make_app(runs_dir, start="train"), terminal_size=LARGE, run_before=run_before)


def test_runs_200x60(snap_compare, runs_dir):
    assert snap_compare(make_app(runs_dir, start="runs"), terminal_size=LARGE, run_before=select_two_runs)


async def chart_sizes(runs_dir, size, start, ids, prepare) -> dict:
    app = make_app(runs_dir, start=start)
    async with app.run_test(size=size) as pilot:
        await prepare(pilot)
        await pilot.pause(0.3)
        return {cid: app.screen.query_one(cid).size for cid in ids}


async def test_layouts_grow_at_200x60(runs_dir):
    """From 140x42 to 200x60 the charts and the runs table get taller and wider."""
    async def runs_ready(pilot):
        await wait_for(pilot, lambda: pilot.app.screen.table.row_count == 5 and pilot.app.screen.settled, what="the runs table")

    cases = [("config", ("#beta-chart", "#abar-chart", "#form"), config_ready),
             ("train", ("#loss-chart",), lambda pilot: show_train(pilot, runs_dir / FINISHED)),
             ("runs", ("#runs-table", "#overlay-chart"), runs_ready)]
    for start, ids, prepare in cases:
        small = await chart_sizes(runs_dir, SIZE, start, ids, prepare)
        large = await chart_sizes(runs_dir, LARGE, start, ids, prepare)
        for cid in ids:
            assert large[cid].width > small[cid].width, (start, cid, small[cid], large[cid])
            if cid != "#form":
                assert large[cid].height > small[cid].height, (start, cid, small[cid], large[cid])
