"""Issue 19: the Runs screen lists through the run index in a worker: rows show as they are
read, keys are answered meanwhile, a reload follows runs added, deleted or changing status
(re-reading only those), a broken run lists with its reason, and a long table holds the
top rows of the sort and filter (n shows more)."""
from __future__ import annotations

import json
import shutil
import time

from textual.widgets import Input, Static

from tui_helpers import FAILED, FINISHED, MID_RUN, SIZE, make_app, wait_for

import engine.records.run_index
from diffrec_tui.screens import runs_loading
from engine.records.run_index import RunIndex


def ids(screen) -> list[str]:
    t = screen.table
    return [t.coordinate_to_cell_key((i, 0)).row_key.value for i in range(t.row_count)]


def status_of(screen, run_id: str) -> str:
    return str(screen.table.get_cell(run_id, "status"))


def summary(screen) -> str:
    return str(screen.query_one("#runs-summary", Static).render())


def copies(runs_dir, n: int) -> list[str]:
    """n more finished runs, copies of a fixture (named older than every fixture)."""
    names = []
    for i in range(n):
        name = f"20240101-{i:06d}-DiffRec-synthetic"
        shutil.copytree(runs_dir / FINISHED, runs_dir / name)
        names.append(name)
    return names


async def test_rows_load_in_a_worker_and_keys_are_answered_meanwhile(runs_dir, monkeypatch):
    copies(runs_dir, 35)
    slow = engine.records.run_index.read_facts

    def read_slowly(path):
        time.sleep(0.06)  # a slow disk: 40 runs take over two seconds to read
        return slow(path)
    monkeypatch.setattr(engine.records.run_index, "read_facts", read_slowly)
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.screen.table.row_count > 0, what="first rows")
        screen = app.screen
        assert screen.scanning and screen.table.row_count < 40  # shown before the listing is done
        assert "reading runs:" in summary(screen)
        await pilot.press("o")  # answered while the worker reads
        assert screen.sort_key == "epochs" and screen.scanning
        await pilot.press("slash")
        assert screen.query_one("#runs-filter", Input).has_focus and screen.scanning
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen.settled and screen.table.row_count == 40, what="every row")
        assert "reading runs" not in summary(screen) and "40 of 40 runs" in summary(screen)
        epochs = [int(str(screen.table.get_cell(i, "epochs"))) for i in ids(screen)]
        assert epochs == sorted(epochs, reverse=True)  # the sort pressed while loading holds


async def test_a_reload_follows_runs_added_deleted_and_changing_status(runs_dir):
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.screen.settled
                       and app.screen.table.row_count == 5, what="the runs table")
        screen = app.screen
        index = RunIndex.shared(runs_dir)
        reads = index.reads
        added = copies(runs_dir, 1)[0]  # a run added while the app is open
        await pilot.press("f5")
        await wait_for(pilot, lambda: screen.settled and screen.table.row_count == 6, what="the added run")
        assert status_of(screen, added) == "finished" and index.reads == reads + 1  # only it was read

        assert status_of(screen, MID_RUN) == "running"
        with open(runs_dir / MID_RUN / "events.jsonl", "a", encoding="utf-8") as fh:  # the run stops
            fh.write(json.dumps({"type": "stopped", "time": 1740906000.0, "reason": "asked to stop"}) + "\n")
        shutil.rmtree(runs_dir / FAILED)  # deleted by hand
        await pilot.press("f5")
        await wait_for(pilot, lambda: screen.settled and screen.table.row_count == 5, what="the deletion")
        assert FAILED not in ids(screen) and status_of(screen, MID_RUN) == "stopped"
        assert index.reads == reads + 2  # and the run that changed


async def test_a_run_with_unreadable_files_lists_as_broken_with_the_reason(runs_dir):
    (runs_dir / FAILED / "config.yaml").write_bytes(b"\x00\x01 binary")
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.screen.settled
                       and app.screen.table.row_count == 5, what="the runs table")
        screen = app.screen
        assert status_of(screen, FAILED) == "broken"
        screen.table.move_cursor(row=screen.table.get_row_index(FAILED), animate=False)
        await pilot.pause()
        assert "broken: config.yaml is a binary file" in summary(screen)
        await pilot.press("e")  # no config to edit: a message, the screen stays
        await pilot.pause()
        assert app.current_mode == "runs"


async def test_a_long_table_holds_the_top_rows_and_m_shows_more(runs_dir, monkeypatch):
    monkeypatch.setattr(runs_loading, "TABLE_ROWS", 2)
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.screen.settled
                       and app.screen.table.row_count == 2, what="the top rows")
        screen = app.screen
        assert "5 of 5 runs" in summary(screen) and "the first 2 in the table: n shows 2 more" in summary(screen)
        assert ids(screen)[0] == MID_RUN  # newest first
        await pilot.press("n")
        await wait_for(pilot, lambda: screen.table.row_count == 4, what="two more rows")
        await pilot.press("n")
        await wait_for(pilot, lambda: screen.table.row_count == 5, what="the last row")
        assert "m shows" not in summary(screen)
        while screen.sort_key != "best":  # a new order keeps as many rows
            await pilot.press("o")
        await wait_for(pilot, lambda: screen.settled and ids(screen)[0] == FINISHED, what="the re-sorted table")
        assert screen.table.row_count == 5


async def test_rows_past_the_view_go_in_as_the_cursor_nears_them(runs_dir, monkeypatch):
    """Each row added costs the table a repaint of its view: rows far below it wait until the
    cursor (or a chosen run) nears them, and the summary still counts them as in the table."""
    monkeypatch.setattr(runs_loading, "FIRST_ROWS", 2)
    monkeypatch.setattr(runs_loading, "AHEAD_ROWS", 4)
    names = copies(runs_dir, 60)
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.screen.settled
                       and app.screen.table.row_count > 0, what="the top rows")
        screen = app.screen
        view = screen.table.size.height
        assert view + 2 <= screen.table.row_count < 65  # the view's rows and half AHEAD_ROWS more at least
        assert "65 of 65 runs" in summary(screen) and "n shows" not in summary(screen)
        before = screen.table.row_count
        while screen.table.row_count == before and screen.table.cursor_row < before - 1:
            await pilot.press("down")
            await pilot.pause()
        assert screen.table.row_count > before  # before the cursor reached the last row
        screen._target = runs_dir / names[0]  # the oldest run, chosen on another screen
        screen.show_highlighted()
        await wait_for(pilot, lambda: screen.current_row() is not None
                       and screen.current_row().id == names[0], what="the cursor on a deferred run")
        assert screen.table.row_count == 65


def sweep_between_runs(runs_dir) -> list[str]:
    """The fixture sweep, and a run outside it named (and started) just after each trial:
    newest first by name, the trials are spread among the other runs."""
    from tui_helpers import HERE
    sweep = runs_dir / "sweep-20250303-100000-hyper"
    shutil.copytree(HERE / "fixtures" / "sweeps" / sweep.name, sweep)
    trials = sorted(p.name for p in sweep.iterdir() if (p / "config.yaml").is_file())
    for name in trials:  # the same start time as the trial: a tie keeps the order of the names
        shutil.copytree(sweep / name, runs_dir / name.replace("00-DiffRec", "30-DiffRec"))
    return trials


async def test_a_first_load_streams_rows_in_the_order_they_stay_in(runs_dir, monkeypatch):
    """The first load reads a sweep's trials after its newest one, under its group row, as
    the table shows them: the rows in the table are the top of the final order all along,
    and the end of the listing refills nothing (that re-renders every row in view); the
    group row's counts grow in place."""
    trials = sweep_between_runs(runs_dir)
    slow = engine.records.run_index.read_facts

    def read_slowly(path):
        time.sleep(0.03)
        return slow(path)
    monkeypatch.setattr(engine.records.run_index, "read_facts", read_slowly)
    app = make_app(runs_dir, start="runs")
    seen = []
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.screen.table.row_count > 0, what="first rows")
        screen = app.screen
        cleared = []
        clear = screen.table.clear
        screen.table.clear = lambda *a, **k: cleared.append(1) or clear(*a, **k)
        while not screen.settled:
            seen.append(ids(screen))
            await pilot.pause(0.02)
        final = ids(screen)
        group = "sweep:sweep-20250303-100000-hyper"
        assert final[:len(trials) + 2] == ([trials[-1].replace("00-DiffRec", "30-DiffRec"), group]
                                           + [f"sweep-20250303-100000-hyper/{t}" for t in reversed(trials)])
        assert [r.id for r in screen.visible()] == final
        assert len(seen) > 3 and all(s == final[:len(s)] for s in seen), "the rows stay where they came in"
        assert any(group in s and len(s) < len(final) for s in seen), "the group row came in with its first trial"
        assert not cleared, "no refill at the end of the listing"
        assert str(screen.table.get_cell(group, "run")) == f"▾ sweep hyper ({len(trials)})"
        assert str(screen.table.get_cell(group, "status")) == screen._groups[group].cells[1]


def test_sweeps_together_puts_each_sweeps_trials_after_its_newest():
    from diffrec_tui.screens.run_groups import sweeps_together
    keys = ["r9", "s1/t8", "r7", "s2/t6", "s1/t5", "r4", "s2/t3"]
    assert sweeps_together(keys) == ["r9", "s1/t8", "s1/t5", "r7", "s2/t6", "s2/t3", "r4"]
