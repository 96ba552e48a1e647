"""Pilot tests of the unsaved-edit guards: every path that would replace a modified draft
(quit, open another file, a run's config, a sweep's best) asks save / discard / cancel."""
from __future__ import annotations

import shutil

import yaml
from textual.widgets import Input

from tui_helpers import FINISHED_2, HERE, SIZE, config_ready, make_app, sleeper, wait_for

SWEEP = "sweep-20250303-100000-hyper"


async def edit_steps(pilot, value: str) -> None:
    await config_ready(pilot)
    pilot.app.screen_for("config").query_one("#field-steps", Input).value = value
    await wait_for(pilot, lambda: pilot.app.draft.raw["steps"] == value and pilot.app.draft.dirty,
                   what="the edit")


async def ask(pilot) -> None:
    await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "UnsavedEdits", what="the unsaved question")


async def test_quit_with_unsaved_edits_cancel_then_discard(runs_dir):
    app = make_app(runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        await edit_steps(pilot, "9")
        await pilot.press("escape", "q")  # leave the field, then q: the edit is not lost silently
        await ask(pilot)
        assert "default.yaml" in str(app.screen.query_one(".dialog-text").render())
        await pilot.press("escape")
        await pilot.pause()
        assert app.return_code is None and app.draft.dirty and app.draft.raw["steps"] == "9"
        await pilot.press("ctrl+q")
        await ask(pilot)
        await pilot.press("d")
        await wait_for(pilot, lambda: app.return_code is not None, what="the quit")


async def test_quit_with_unsaved_edits_save_writes_the_file(runs_dir, tmp_path):
    target = tmp_path / "mine.yaml"
    target.write_text("steps: 5\n", encoding="utf-8")
    app = make_app(runs_dir, path=target)
    async with app.run_test(size=SIZE) as pilot:
        await edit_steps(pilot, "7")
        await pilot.press("ctrl+q")
        await ask(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: app.return_code is not None, what="the quit")
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["steps"] == 7


async def test_quit_untitled_save_asks_for_a_path_then_quits(runs_dir, tmp_path):
    target = tmp_path / "new.yaml"
    app = make_app(runs_dir, path=None)
    async with app.run_test(size=SIZE) as pilot:
        await edit_steps(pilot, "6")
        await pilot.press("ctrl+q")
        await ask(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: app.screen.query("#path"), what="the save-as prompt")
        app.screen.query_one("#path", Input).value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.return_code is not None, what="the quit")
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["steps"] == 6


async def test_quit_with_edits_and_a_run_asks_both(runs_dir):
    from diffrec_tui.live import LiveRun
    app = make_app(runs_dir)
    proc = sleeper()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await edit_steps(pilot, "8")
            live = LiveRun.attach(runs_dir / FINISHED_2)
            live.proc, live.state.status = proc, "running"
            app.started.append(live)
            await pilot.press("ctrl+q")
            await ask(pilot)
            await pilot.press("d")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "QuitWithRun", what="the run question")
            await pilot.press("escape")
            await pilot.pause()
            assert app.return_code is None
            app.started.clear()
    finally:
        proc.kill()
        proc.wait()


async def test_runs_edit_config_asks_before_replacing_edits(runs_dir):
    app = make_app(runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        await edit_steps(pilot, "9")
        app.action_page("runs")
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.screen.is_mounted
                       and app.screen.table.row_count == 5,
                       what="the runs table")
        app.screen.table.move_cursor(row=app.screen.table.get_row_index(FINISHED_2), animate=False)
        await pilot.press("e")
        await ask(pilot)
        await pilot.press("escape")  # cancel: the draft stays
        await pilot.pause()
        assert app.draft.raw["steps"] == "9" and app.draft.origin == ""
        await pilot.press("e")
        await ask(pilot)
        await pilot.press("d")
        await wait_for(pilot, lambda: app.draft.origin == f"from run {FINISHED_2}", what="the run's config")
        assert app.draft.raw["steps"] == "10"


async def test_sweep_promote_asks_before_replacing_edits(runs_dir):
    shutil.copytree(HERE / "fixtures" / "sweeps" / SWEEP, runs_dir / SWEEP)
    app = make_app(runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        await edit_steps(pilot, "9")
        app.action_page("sweep")
        await wait_for(pilot, lambda: app.current_mode == "sweep" and app.screen.is_mounted
                       and app.screen.table.row_count > 0, what="the sweep screen")
        await pilot.press("ctrl+b")
        await ask(pilot)
        await pilot.press("c")
        await pilot.pause()
        assert app.draft.raw["steps"] == "9" and app.draft.path is not None
        await pilot.press("ctrl+b")
        await ask(pilot)
        await pilot.press("d")
        await wait_for(pilot, lambda: app.draft.raw["steps"] == "50", what="the best config")
