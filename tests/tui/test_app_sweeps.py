"""The app owns the sweep coordinators it starts (diffrec_tui.coordinators, through
engine.processes.supervisor.Child): it stops them on quit and says how each ended even when the
Sweep screen was never shown. Listings load in thread workers: the Sweep screen's list and
the Inspect screen's run picker show a loading state until their rows arrive."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from textual.widgets import Static

from engine.processes.supervisor import ExitCode
from engine.records.sweeps import LOG_FILE, list_all_runs, list_sweeps
from diffrec_tui.coordinators import Coordinators, ended_message
from tui_helpers import HERE, SIZE, answer_quit, make_app, wait_for

SWEEP = "sweep-20250303-100000-hyper"  # tests/tui/fixtures/make_sweep.py
FIXTURE_SWEEP = HERE / "fixtures" / "sweeps" / SWEEP


@pytest.fixture
def sweep_dir(runs_dir) -> Path:
    path = runs_dir / SWEEP
    shutil.copytree(FIXTURE_SWEEP, path)
    return path


def exits_with(code: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"], start_new_session=True)


def ready_sleeper() -> subprocess.Popen:
    """A stand-in coordinator, returned once it takes SIGINT as a clean stop (a signal that
    comes earlier, while the interpreter starts, ends it with another status)."""
    code = ("import signal, sys, time; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "print('ready', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def finish(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


# ---------------------------------------------------------------- no Textual

def test_listings_find_sweeps_and_their_trials(sweep_dir):
    root = sweep_dir.parent
    assert [i.path for i in list_sweeps(root)] == [sweep_dir]
    runs = list_all_runs(root)
    names = [r.path.name for r in runs]
    assert names == sorted(names, reverse=True)
    trials = [r for r in runs if r.path.parent == sweep_dir]
    assert len(trials) == 9 and len(runs) == 5 + 9  # the canned runs and the sweep's trial directories
    (root / "sweep-20250101-000000-broken").mkdir()
    (root / "sweep-20250101-000000-broken" / "sweep.yaml").write_text("not: [a sweep")
    assert [i.path for i in list_sweeps(root)] == [sweep_dir]  # a damaged sweep is left out


def test_coordinators_poll_each_end_once_and_know_a_refusal(tmp_path):
    c = Coordinators()
    ok, bad = tmp_path / "sweep-a", tmp_path / "sweep-b"
    c.procs[ok], c.procs[bad] = exits_with(0), exits_with(2)
    for child in c.procs.values():
        child.wait(10)
    ended = dict(c.poll())
    assert ended == {ok: ExitCode.OK, bad: ExitCode.INPUT}
    assert c.poll() == [] and c.running() == []  # said once
    assert c.refused(bad) and not c.refused(ok)


def test_coordinators_stop_their_own_and_one_known_by_pid(tmp_path):
    c = Coordinators()
    mine, other = ready_sleeper(), ready_sleeper()
    try:
        c.procs[tmp_path / "sweep-mine"] = mine
        assert c.running() == [tmp_path / "sweep-mine"] and c.starting(tmp_path / "sweep-mine")
        c.stop_all()
        assert mine.wait(10) == -signal.SIGINT
        # a coordinator this app did not start (another app, the CLI): its recorded pid
        info = SimpleNamespace(path=tmp_path / "sweep-other", state={"status": "running", "pid": other.pid})
        assert c.stop(info)
        assert other.wait(10) == -signal.SIGINT
        assert not c.stop(info)  # gone: nothing to stop
    finally:
        finish(mine)
        finish(other)


def test_ended_messages_name_the_sweep_and_why(sweep_dir):
    (sweep_dir / LOG_FILE).write_text("starting\nsweep: base config has problems\n")
    text, severity = ended_message(sweep_dir, ExitCode.INPUT)
    assert text == "20250303-100000-hyper did not start: sweep: base config has problems" and severity == "error"
    assert "f4 resumes it" in ended_message(sweep_dir, ExitCode.INTERRUPTED)[0]
    assert "finished" in ended_message(sweep_dir, ExitCode.OK)[0]
    text, severity = ended_message(sweep_dir, ExitCode.FAILED)
    assert f"exit 1); see {SWEEP}/{LOG_FILE}" in text and severity == "error"


# ---------------------------------------------------------------- the app

async def test_the_app_stops_a_sweep_on_quit_without_the_sweep_screen(sweep_dir):
    coordinator = ready_sleeper()
    try:
        app = make_app(sweep_dir.parent)
        async with app.run_test(size=SIZE) as pilot:
            app.sweeps.procs[sweep_dir] = coordinator
            await answer_quit(pilot, "s")
            assert app.screen_for("sweep") is None  # never shown: the app alone knew the process
        assert coordinator.wait(timeout=10) == -signal.SIGINT
    finally:
        finish(coordinator)


async def test_the_app_says_how_a_sweep_ended_and_the_screen_follows(sweep_dir, monkeypatch):
    app = make_app(sweep_dir.parent, start="sweep")
    said = []
    monkeypatch.setattr(app, "notify", lambda text, **kw: said.append(text))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.table.row_count > 0, what="the sweep screen")
        screen = app.screen
        assert screen.procs is app.sweeps.procs and screen.exit_codes is app.sweeps.exit_codes
        (sweep_dir / LOG_FILE).write_text("sweep: no such data\n")
        app.sweeps.procs[sweep_dir] = exits_with(2)
        await wait_for(pilot, lambda: any("did not start" in s for s in said), what="the notification")
        assert "20250303-100000-hyper did not start: sweep: no such data" in said
        await wait_for(pilot, lambda: "not started" in str(screen.query_one("#sweep-status", Static).render()),
                       what="the status")


async def test_the_sweep_list_loads_in_a_worker(sweep_dir, monkeypatch):
    from diffrec_tui.screens.sweep import setup
    gate = threading.Event()
    real = setup.list_sweeps
    monkeypatch.setattr(setup, "list_sweeps", lambda root: (gate.wait(30), real(root))[1])
    app = make_app(sweep_dir.parent, start="sweep")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "sweep" and app.screen.is_mounted, what="the screen")
        screen = app.screen
        title = screen.query_one("#sweep-list-title", Static)
        await pilot.pause(0.2)
        assert "loading..." in str(title.render()) and screen.sweep_list.row_count == 0
        await pilot.press("escape", "1")  # the UI answers meanwhile (escape: out of the space editor)
        await wait_for(pilot, lambda: app.current_mode == "config", what="the config page")
        await pilot.press("5")
        gate.set()
        await wait_for(pilot, lambda: screen.sweep_list.row_count == 1 and screen.table.row_count == 12,
                       what="the rows")
        assert "(1): enter or o opens" in str(title.render())


async def test_the_inspect_run_picker_loads_in_a_worker(sweep_dir, monkeypatch):
    from diffrec_tui.screens.inspect import pickers
    gate = threading.Event()
    real = pickers.list_all_runs
    monkeypatch.setattr(pickers, "list_all_runs", lambda root: (gate.wait(30), real(root))[1])
    app = make_app(sweep_dir.parent, start="inspect")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "inspect" and app.screen.is_mounted, what="the screen")
        screen = app.screen
        picker = screen.query_one(pickers.RunPicker)
        await pilot.pause(0.2)
        assert "loading..." in str(picker.border_title) and picker.option_count == 0
        gate.set()
        # the canned runs have no checkpoint: none listed, and the screen says so inline
        await wait_for(pilot, lambda: picker.listed, what="the listing")
        assert picker.border_title == "runs with a checkpoint (p)" and picker.option_count == 0
        await wait_for(pilot, lambda: screen.error and "no run to inspect" in screen.error, what="the message")
