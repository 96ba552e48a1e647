"""Snapshot tests of every screen in its main states (pytest-textual-snapshot).

Fixed terminal size, canned runs (tests/tui/fixtures/runs, copied to tmp_path), UTC times,
no blinking cursor (the app turns blinking off when headless). Update the stored SVGs
with `pytest tests/tui/test_snapshots.py --snapshot-update` after a deliberate UI change.
"""
from __future__ import annotations

from textual.widgets import Input, Select

from tui_helpers import FINISHED, FINISHED_2, MID_RUN, SIZE, config_ready, make_app, wait_for


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


def test_runs_table_compare_and_diff(snap_compare, runs_dir):
    """Two finished runs selected: their validation curves overlaid and their config diff."""
    async def run_before(pilot):
        await wait_for(pilot, lambda: pilot.app.screen.table.row_count == 5, what="the runs table")
        screen = pilot.app.screen
        for run_id in (FINISHED, FINISHED_2):
            screen.table.move_cursor(row=screen.table.get_row_index(run_id), animate=False)
            await pilot.press("space")
        await wait_for(pilot, lambda: len(screen.selected) == 2, what="two selected runs")
        await pilot.pause(0.3)

    assert snap_compare(make_app(runs_dir, start="runs"), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare, runs_dir):
    """`?` lists the bindings of the app and of every screen (over the Train screen)."""
    async def run_before(pilot):
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "HelpScreen", what="help")
        await pilot.pause(0.3)

    assert snap_compare(make_app(runs_dir, start="train"), terminal_size=SIZE, run_before=run_before)
