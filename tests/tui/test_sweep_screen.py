"""The Sweep screen: its model (diffrec_tui.sweeps), a snapshot from a canned sweep, Pilot
flows (space errors with line numbers, scatter parameter, promote the best config, open a
trial in Runs), and a real two-trial sweep launched from the screen."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from textual.widgets import Input, Select, Static, TextArea

from engine.config import files as config_files
from engine.records.sweeps import load_sweep
from diffrec_tui.widgets.scatter import Scatter
from tui_helpers import HERE, LARGE, REPO, SIZE, SMALL, answer_quit, make_app, sleeper, tiny_config, wait_for

SWEEP = "sweep-20250303-100000-hyper"  # tests/tui/fixtures/make_sweep.py
FIXTURE_SWEEP = HERE / "fixtures" / "sweeps" / SWEEP
BEST, SKIPPED = 6, 2  # the canned sweep's best trial (valid recall@20 0.2974) and a skipped one


@pytest.fixture
def sweep_dir(runs_dir) -> Path:
    """The canned runs plus the canned (stopped) sweep, under one runs directory."""
    path = runs_dir / SWEEP
    shutil.copytree(FIXTURE_SWEEP, path)
    return path


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def trial_ids(screen) -> list[int]:
    t = screen.table
    return [int(t.coordinate_to_cell_key((i, 0)).row_key.value) for i in range(t.row_count)]


async def open_sweep_screen(pilot):
    await wait_for(pilot, lambda: pilot.app.current_mode == "sweep" and pilot.app.screen.is_mounted
                   and pilot.app.screen.table.row_count > 0, what="the sweep screen")
    return pilot.app.screen


def stop_launched(screen) -> None:
    """Never leave a sweep process behind (a failing test included)."""
    for proc in screen.procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


# ---------------------------------------------------------------- the model, no Textual

def test_model_lists_ranks_and_picks_the_best_by_validation(sweep_dir):
    from diffrec_tui import sweeps
    listed = sweeps.list_sweeps(sweep_dir.parent)
    assert [i.path for i in listed] == [sweep_dir]  # canned run directories are not sweeps
    info = listed[0]
    ranked = [t.index for t in sweeps.ranked(info)]
    assert ranked[0] == BEST and ranked[-3:] == [2, 8, 12]  # no metric: skipped, skipped, pending
    values = [t.value for t in sweeps.ranked(info) if t.value is not None]
    assert values == sorted(values, reverse=True)
    xs, ys, idx = sweeps.scatter_points(info, "steps")
    assert len(xs) == 7 and BEST in idx and 11 not in idx  # finished trials only (11 was stopped)
    assert ys[idx.index(BEST)] == max(ys)

    cfg, origin = sweeps.best_config(info)
    assert origin == f"best.yaml of {SWEEP[6:]} (trial {BEST})"
    assert (cfg["learning_rate"], cfg["steps"], cfg["sampling_steps"]) == (0.001, 50, 10)
    (sweep_dir / "best.yaml").unlink()  # a running sweep has none yet: base + the trial's params
    cfg2, origin2 = sweeps.best_config(load_sweep(sweep_dir))
    assert origin2 == f"best of {SWEEP[6:]} (trial {BEST})" and cfg2 == cfg


def test_model_checks_the_space_and_counts():
    from diffrec_tui import sweeps
    from engine.errors import InputError
    ok = sweeps.check_space("steps choice [5,10]\n# note\nlearning_rate choice [1e-3,1e-4,1e-5]\n")
    assert ok.error == "" and ok.summary == "2 parameters: grid of 6 trials"
    bad = sweeps.check_space("steps choice [5,10]\n\nnoice_scale choice [0.1]\n")
    assert bad.error == "hyper.test line 3: unknown key `noice_scale` (did you mean `noise_scale`?)"
    cont = sweeps.check_space("w_min uniform 0.1 0.3\n")
    assert "line 1" in cont.error and "number of trials" in cont.error
    assert sweeps.check_space("w_min uniform 0.1 0.3\n", trials=4).summary == "1 parameter: random search, 4 trials"
    assert sweeps.parse_count(" ", "trials") is None and sweeps.parse_count("3", "trials") == 3
    for bad_count in ("x", "0"):
        with pytest.raises(InputError, match="trials: must be"):
            sweeps.parse_count(bad_count, "trials")


def test_screen_modules_do_not_load_torch():
    code = textwrap.dedent("""
        import sys
        import diffrec_tui.screens.sweep, diffrec_tui.sweeps, diffrec_tui.widgets.scatter
        print("torch" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- snapshot

async def trials_shown(pilot) -> None:
    screen = await open_sweep_screen(pilot)
    await wait_for(pilot, lambda: screen.table.row_count == 12, what="the trials")
    await pilot.pause(0.3)


def test_sweep_screen_snapshot(snap_compare, sweep_dir):
    """The canned stopped sweep: status with the best trial, trials ranked by validation
    recall@20, the scatter against learning_rate, the space it ran, the sweeps list."""
    assert snap_compare(make_app(sweep_dir.parent, start="sweep"), terminal_size=SIZE, run_before=trials_shown)


def test_sweep_screen_200x60(snap_compare, sweep_dir):
    """200x60: every trial row and a taller scatter."""
    assert snap_compare(make_app(sweep_dir.parent, start="sweep"), terminal_size=LARGE, run_before=trials_shown)


def test_sweep_screen_80x24(snap_compare, sweep_dir):
    """80x24: the results pane first (status, at least 5 trial rows, a 9-row scatter)."""
    assert snap_compare(make_app(sweep_dir.parent, start="sweep"), terminal_size=SMALL, run_before=trials_shown)


def test_sweep_screen_80x24_setup(snap_compare, sweep_dir):
    """f6: the setup pane (base, file, the space, its check, the sweeps list) at full width."""
    async def run_before(pilot):
        screen = await open_sweep_screen(pilot)
        await wait_for(pilot, lambda: screen.table.row_count == 12, what="the trials")
        screen.table.focus()
        await pilot.press("f6")
        await pilot.pause(0.3)

    assert snap_compare(make_app(sweep_dir.parent, start="sweep"), terminal_size=SMALL, run_before=run_before)


# ---------------------------------------------------------------- Pilot flows

async def test_canned_sweep_is_shown_ranked_by_validation(sweep_dir):
    app = make_app(sweep_dir.parent, start="sweep")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sweep_screen(pilot)
        assert trial_ids(screen)[:4] == [6, 3, 4, 1]
        status = text(screen, "#sweep-status")
        assert "stopped" in status and "best: trial 6, valid recall@20 0.2974" in status
        assert "7 finished, 1 stopped, 1 failed, 2 skipped, 1 pending" in status
        assert "sampling_steps choice [0,10]" in screen.query_one("#sweep-space", TextArea).text
        assert screen.sweep_list.row_count == 1


async def test_unknown_key_shows_the_line_numbered_error_and_blocks_launch(sweep_dir):
    app = make_app(sweep_dir.parent, start="sweep")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sweep_screen(pilot)
        area = screen.query_one("#sweep-space", TextArea)
        area.load_text("steps choice [5,10]\nnoice_scale choice [0.1]\n")
        await wait_for(pilot, lambda: "noice_scale" in text(screen, "#sweep-check"), what="the check")
        assert "hyper.test line 2: unknown key `noice_scale` (did you mean `noise_scale`?)" in \
            text(screen, "#sweep-check").replace("\n", " ")
        before = sorted(p.name for p in sweep_dir.parent.iterdir())
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert sorted(p.name for p in sweep_dir.parent.iterdir()) == before  # nothing created
        assert screen.procs == {}
        # fix it by typing: noice -> noise
        area.focus()
        area.move_cursor((1, 3))
        await pilot.press("delete", "s")
        await wait_for(pilot, lambda: "✓" in text(screen, "#sweep-check"), what="the fixed space")
        assert area.text.splitlines()[1] == "noise_scale choice [0.1]"
        assert "2 parameters: grid of 2 trials" in text(screen, "#sweep-check")
        # a bad count is an inline error too
        screen.query_one("#sweep-workers", Input).value = "0"
        await wait_for(pilot, lambda: "workers: must be >= 1, got 0" in text(screen, "#sweep-check"),
                       what="the workers error")
        screen.query_one("#sweep-workers", Input).value = ""
        # the base config must be valid: the editor's problems, or a missing file, are inline errors
        app.draft.set("noise_min", "0.9")
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: "the editor's config has problems" in text(screen, "#sweep-check"),
                       what="the base config error")
        screen.query_one("#sweep-base", Input).value = "no/such/base.yaml"
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: "file not found: no/such/base.yaml" in text(screen, "#sweep-check"),
                       what="the base file error")
        assert sorted(p.name for p in sweep_dir.parent.iterdir()) == before and screen.procs == {}


async def test_loading_a_missing_file_is_an_inline_error(sweep_dir, tmp_path):
    app = make_app(sweep_dir.parent, start="sweep")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sweep_screen(pilot)
        screen.query_one("#sweep-file", Input).value = str(tmp_path / "nope.test")
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: "file: not found" in text(screen, "#sweep-check"), what="the error")
        (tmp_path / "mine.test").write_text("dims_dnn choice ['[300]','[200,600]']\n")
        screen.query_one("#sweep-file", Input).value = str(tmp_path / "mine.test")
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: "grid of 2 trials" in text(screen, "#sweep-check"), what="the loaded file")
        assert screen.space_name == "mine"


async def test_choosing_a_parameter_redraws_the_scatter(sweep_dir):
    app = make_app(sweep_dir.parent, start="sweep")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sweep_screen(pilot)
        chart = screen.query_one("#sweep-scatter")
        assert chart.data.xlabel == "learning_rate" and list(chart.data.categories) == [1e-4, 1e-3]
        before = chart.render()
        screen.query_one("#sweep-param", Select).value = "steps"
        await wait_for(pilot, lambda: chart.data.xlabel == "steps", what="the redraw")
        assert list(chart.data.categories) == [5, 10, 50]
        assert sorted(chart.data.xs) == [5, 5, 10, 10, 10, 10, 50]  # the 7 finished trials
        assert chart.data.xs[chart.data.highlight] == 50  # the best trial is marked
        assert "steps" in str(chart.render()) and str(chart.render()) != str(before)
        screen.table.focus()
        await pilot.press("p")  # the key cycles through the space's keys
        await wait_for(pilot, lambda: chart.data.xlabel == "sampling_steps", what="the next parameter")
        assert screen.query_one("#sweep-param", Select).value == "sampling_steps"
        # a sweep whose only finished trial is the best one: one marked point, no empty series
        chart.show(Scatter([5], [0.2], title="one", xlabel="steps", categories=[5, 10], highlight=0))
        await pilot.pause()
        assert "◆" in str(chart.render())


async def test_promote_best_puts_its_values_in_the_editor(sweep_dir):
    app = make_app(sweep_dir.parent, start="sweep")
    async with app.run_test(size=SIZE) as pilot:
        await open_sweep_screen(pilot)
        await pilot.press("ctrl+b")
        await wait_for(pilot, lambda: app.current_mode == "config" and app.screen.ready, what="the editor")
        assert app.draft.origin == f"best.yaml of {SWEEP[6:]} (trial {BEST})" and app.draft.path is None
        assert app.draft.dirty
        screen = app.screen
        assert screen.query_one("#field-learning_rate", Input).value == "0.001"
        assert screen.query_one("#field-steps", Input).value == "50"
        assert screen.query_one("#field-sampling_steps", Input).value == "10"
        assert screen.query_one("#field-epochs", Input).value == "20"  # the sweep's base config


async def test_open_a_trial_in_runs_and_inspect(sweep_dir):
    app = make_app(sweep_dir.parent, start="sweep")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sweep_screen(pilot)
        trial3 = next(t for t in screen.info.trials if t.index == 3)
        screen.table.move_cursor(row=screen.table.get_row_index("3"), animate=False)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.screen.current_row() is not None
                       and app.screen.current_row().info.path == trial3.run, what="the trial in Runs")
        assert app.highlighted_run == trial3.run
        runs = app.screen
        # the canned runs, the sweep's group row and its 9 trial directories
        assert runs.table.row_count == 5 + 1 + 9

        await pilot.press("5")
        await wait_for(pilot, lambda: app.current_mode == "sweep", what="back to the sweep")
        screen.table.move_cursor(row=screen.table.get_row_index(str(SKIPPED)), animate=False)
        await pilot.press("r")  # a skipped trial has no run directory: a message, no switch
        await pilot.pause(0.2)
        assert app.current_mode == "sweep"

        screen.table.move_cursor(row=screen.table.get_row_index(str(BEST)), animate=False)
        await pilot.press("i")
        best_run = next(t for t in screen.info.trials if t.index == BEST).run
        if any(p.mode == "inspect" for p in app.pages()):
            await wait_for(pilot, lambda: app.current_mode == "inspect", what="the inspect screen")
            assert app.selected_run() == best_run
        else:  # the Inspect page is not in this build: the screen says so and stays
            await pilot.pause(0.2)
            assert app.current_mode == "sweep"


async def test_reopen_a_sweep_from_the_list(sweep_dir, tmp_path):
    second = sweep_dir.parent / "sweep-20250304-080000-other"
    shutil.copytree(sweep_dir, second)
    app = make_app(sweep_dir.parent, start="sweep")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sweep_screen(pilot)
        assert screen.current == second  # the newest is shown first
        assert screen.sweep_list.row_count == 2
        screen.sweep_list.focus()
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: screen.current == sweep_dir, what="the older sweep")
        assert SWEEP[6:] in text(screen, "#sweep-status")
        await pilot.press("ctrl+t")  # it is not running: a warning, nothing else
        await pilot.pause()
        assert screen.procs == {}


# ---------------------------------------------------------------- a real sweep

async def test_launch_a_real_two_trial_sweep_and_stop_it(runs_dir):
    """Two trials on tiny synthetic data, launched from the screen on the editor's config,
    two workers: the 2-epoch trial finishes while the endless one trains; ctrl+t stops the
    sweep (SIGINT to its process), which records that trial as stopped."""
    cfg = tiny_config(synthetic_users=200, synthetic_items=100, synthetic_interactions=15, epochs=2, eval_step=1,
                      stopping_step=100_000)
    app = make_app(runs_dir, cfg=cfg, start="sweep")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "sweep" and app.screen.is_mounted, what="the screen")
        screen = app.screen
        assert "no sweep shown" in text(screen, "#sweep-status")
        try:
            screen.query_one("#sweep-space", TextArea).load_text("epochs choice [2,100000]\n")
            screen.query_one("#sweep-workers", Input).value = "2"
            await pilot.pause()
            await pilot.press("ctrl+l")
            await wait_for(pilot, lambda: screen.current is not None, what="the sweep directory")
            assert screen.current.parent == runs_dir and screen.current.name.startswith("sweep-")
            await wait_for(pilot, lambda: [t.status for t in screen.info.trials] == ["finished", "running"],
                           timeout=120, what="the short trial to finish")
            assert "running: ctrl+t stops it" in text(screen, "#sweep-status")
            await pilot.press("ctrl+t")
            await wait_for(pilot, lambda: screen.current in screen.exit_codes, timeout=60, what="the sweep to stop")
        finally:
            stop_launched(screen)
        assert screen.exit_codes[screen.current] == 130
        # SweepInfo.status asks whether the coordinator lives: an info read while it ran says "stopped" as
        # soon as it has exited, before the screen has read the files again; wait for that reload
        await wait_for(pilot, lambda: screen.info.status == "stopped" and screen.info.state.get("status") != "running",
                       what="the stopped sweep read again")
        info = screen.info
        assert [t.status for t in info.trials] == ["finished", "stopped"]
        assert info.trials[0].value is not None and info.trials[0].epochs == 2
        assert info.meta["base"]["synthetic_users"] == 200  # the editor's config was the base
        assert screen.table.row_count == 2
        # ranked by the validation metric; the stopped trial may not have one yet (then last)
        values = [next(t.value for t in info.trials if t.index == i) for i in trial_ids(screen)]
        values = [float("-inf") if v is None else v for v in values]
        assert values == sorted(values, reverse=True)
        assert info.best.index == 1  # only a finished trial can be the best
        assert "stopped: f4 resumes it" in text(screen, "#sweep-status")
        rows = (screen.current / "results.csv").read_text().splitlines()
        assert len(rows) == 3 and rows[0].startswith("trial,status,epochs")
        assert (screen.current / "sweep.log").is_file()
        best = config_files.load(screen.current / "best.yaml")
        assert best["epochs"] == 2 and best["synthetic_users"] == 200


async def test_quit_while_a_launched_sweep_runs_asks_and_stops_it(sweep_dir):
    """A coordinator this app started is still running: quitting asks; `s` sends it SIGINT
    (the clean stop that records running trials as stopped)."""
    coordinator = sleeper()
    try:
        app = make_app(sweep_dir.parent, start="sweep")
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_sweep_screen(pilot)
            screen.procs[sweep_dir] = coordinator
            await pilot.press("ctrl+q")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "QuitWithRun", what="the quit question")
            assert "sweep 20250303-100000-hyper" in str(app.screen.query_one(".dialog-text", Static).render())
            await pilot.press("escape")  # cancel: nothing stopped
            await wait_for(pilot, lambda: app.screen is screen, what="the sweep screen again")
            assert coordinator.poll() is None
            await answer_quit(pilot, "s")
        assert coordinator.wait(timeout=10) == -signal.SIGINT
    finally:
        if coordinator.poll() is None:
            coordinator.kill()


async def test_focus_starts_at_the_top_and_list_counts_agree_with_trials(runs_dir, sweep_dir):
    """Issue 17: with no sweep, focus starts on the base field (above the editor); with
    running trials, the list says running and how many, as the trial table does."""
    from dataclasses import replace
    empty = runs_dir.parent / "empty-runs"
    empty.mkdir()
    app = make_app(empty, start="sweep")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "sweep" and app.screen.is_mounted, what="the screen")
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "sweep-base"

    app = make_app(sweep_dir.parent, start="sweep")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sweep_screen(pilot)
        info = screen.info
        trials = [replace(t, status="running") if t.status == "pending" else t for t in info.trials]
        live = replace(info, state={}, trials=trials)  # no coordinator state yet: "pending"
        assert live.status == "pending" and screen._status(live) == "running"
