"""Processes: a headless command that is terminated or hung up stops its worker first; a
worker killed mid-epoch leaves a run that --resume finishes; a worker that is gone without a
final event is shown as dead with the reason, never as running forever; no worker is left
running by a command that ended (only the app's "leave running" detaches one)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from procs import LineReader as Lines

from faults import (REPO, alive, child_pids, cli, events, one_line, runs_in, start_cli, tiny, wait_until,
                    worker_pid)

LONG = {"epochs": 1000, "eval_step": 1, "stopping_step": 1000}
sys.path.insert(0, str(REPO / "tests" / "tui"))  # tui_helpers, for the app's cases


def only_run(runs):
    return wait_until(lambda: runs_in(runs)[0] if runs_in(runs) else None, 30, what="the run directory")


def finish(proc, timeout=60) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, out, err


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)], ids=["SIGTERM", "SIGHUP"])
def test_terminating_the_cli_stops_its_worker_first(tmp_path, sig, code):
    runs = tmp_path / "runs"
    proc = start_cli("--run", tiny(tmp_path / "c.yaml", **LONG), "--runs-dir", runs)
    try:
        lines = Lines(proc)
        lines.wait_for("epoch 1/")
        run = only_run(runs)
        pid = worker_pid(run)
        proc.send_signal(sig)
        rc = proc.wait(timeout=60)
        out, err = lines.rest(), proc.stderr.read()
    finally:
        proc.kill()
    assert rc == code, (rc, err)
    assert "Traceback" not in out + err and "stopped after" in out and "run directory" in out
    assert not alive(pid)
    assert events(run)[-1]["type"] == "stopped" and (run / "checkpoint.pt").is_file()


def test_a_worker_killed_mid_epoch_leaves_a_run_that_resume_finishes(tmp_path):
    runs = tmp_path / "runs"
    proc = start_cli("--run", tiny(tmp_path / "c.yaml", epochs=12, eval_step=1, stopping_step=1000),
                     "--runs-dir", runs)
    try:
        Lines(proc).wait_for("checkpoint epoch 2")
        run = only_run(runs)
        os.kill(worker_pid(run), signal.SIGKILL)
        code, out, err = finish(proc)
    finally:
        proc.kill()
    line = one_line(subprocess.CompletedProcess([], code, "", err), 1, "run dead", "killed by signal 9",
                    "without a final event", "--resume")
    assert str(run) in line
    from engine.records.runs import load_run
    assert load_run(run).status == "dead" and "killed by signal 9" in load_run(run).reason  # the CLI noted it

    res = cli("--resume", run, timeout=120)
    assert res.returncode == 0 and "Traceback" not in res.stdout + res.stderr, res.stderr
    evs = events(run)
    epochs = [e["epoch"] for e in evs if e["type"] == "epoch"]
    assert epochs[-1] == 12 and sorted(set(epochs)) == list(range(1, 13))
    assert evs[-1]["type"] == "finished" and load_run(run).status == "finished"


def test_a_worker_gone_before_its_first_event_is_dead_not_running(tmp_path):
    runs = tmp_path / "runs"
    proc = start_cli("--run", tiny(tmp_path / "c.yaml"), "--runs-dir", runs)
    try:
        only_run(runs)
        [pid] = wait_until(lambda: child_pids(proc.pid), 10, what="the worker process")
        os.kill(pid, signal.SIGKILL)  # still importing torch: no event yet
        code, out, err = finish(proc)
    finally:
        proc.kill()
    one_line(subprocess.CompletedProcess([], code, out, err), 1, "run dead", "without a final event")
    from engine.records.runs import list_runs
    [info] = list_runs(runs)
    assert info.status == "dead" and "without a final event" in info.reason and "worker.log" in info.reason
    assert not any(e["type"] == "started" for e in info.events)


def test_a_killed_cli_does_not_orphan_its_worker(tmp_path):
    """kill -9 leaves no time to forward anything: the worker sees its supervisor gone."""
    runs = tmp_path / "runs"
    proc = start_cli("--run", tiny(tmp_path / "c.yaml", **LONG), "--runs-dir", runs)
    try:
        Lines(proc).wait_for("epoch 1/")
        run = only_run(runs)
        pid = worker_pid(run)
        proc.kill()
        proc.wait(timeout=10)
        wait_until(lambda: not alive(pid), 20, what="the orphaned worker to stop")
    finally:
        proc.kill()
    assert events(run)[-1]["type"] == "stopped"
    assert "Traceback" not in (run / "worker.log").read_text()


def test_resume_refuses_a_run_whose_worker_is_alive(tmp_path):
    from engine.config import schema as config
    from engine.records.runs import RunDir
    run = RunDir.create(tmp_path / "runs", config.resolve({"epochs": 3}))
    run.resume_file.write_bytes(b"x")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run.record_worker(sleeper.pid, None)
        one_line(cli("--resume", run.path), 2, "still running", f"pid {sleeper.pid}")
        assert not run.events_file.exists()  # no second worker was started
    finally:
        sleeper.kill()
        sleeper.wait()


def test_terminating_a_sweep_stops_every_trial_worker(tmp_path):
    runs = tmp_path / "runs"
    hyper = tmp_path / "hyper.test"
    hyper.write_text("learning_rate choice [0.001,0.002]\n")
    proc = start_cli("--tune", hyper, "--config", tiny(tmp_path / "c.yaml", **LONG), "--runs-dir", runs,
                     "--workers", "2")
    try:
        sweep = only_run(runs)
        trials = wait_until(lambda: [r for r in runs_in(sweep) if any(e["type"] == "epoch" for e in
                                                                        _events(r))] or None, 60,
                            what="a trial training")
        pids = [worker_pid(r) for r in runs_in(sweep)]
        proc.send_signal(signal.SIGTERM)
        code, out, err = finish(proc)
    finally:
        proc.kill()
    assert code == 143 and "Traceback" not in out + err, err
    assert "sweep stopped" in out and f"diffrec-tui --resume {sweep}" in out
    assert trials and not any(alive(p) for p in pids)
    from engine.records.sweeps import load_sweep
    assert {t.status for t in load_sweep(sweep).trials} <= {"stopped", "pending", "finished"}


def _events(run):
    from engine.records.events import read_events
    return read_events(run / "events.jsonl")


def dead_run(root, log_line="Fatal Python error: Segmentation fault"):
    """A run whose worker (a real process, now gone) left no final event."""
    from engine.config import schema as config
    from engine.records.runs import RunDir
    run = RunDir.create(root, config.resolve({"epochs": 3}))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    run.record_worker(gone.pid, None)
    run.log_file.write_text(f"starting\n{log_line}\n")
    return run


def dead_trial(root):
    """A sweep whose coordinator is alive (this process) and whose one trial's worker is dead."""
    from engine.search import space as tuning
    from engine.config import schema as config
    from engine.records.sweeps import SweepDir
    base = config.resolve({"epochs": 3})
    space = tuning.parse("learning_rate choice [0.01]\n")
    sd = SweepDir.create(root, "hyper", space, base, *tuning.plan(space, base, None, seed=1), seed=1)
    run = dead_run(sd.path)
    sd.record({"trial": 1, "status": "running", "params": {"learning_rate": 0.01}, "run": run.path.name})
    sd.write_state(status="running", pid=os.getpid())
    return sd.path


def test_a_dead_trial_shows_as_dead_in_the_sweep_table(tmp_path):
    from rich.console import Console
    from diffrec_tui.headless.tune import trial_table
    from engine.records.sweeps import load_sweep
    info = load_sweep(dead_trial(tmp_path))
    assert info.trials[0].status == "dead" and "Segmentation fault" in info.trials[0].reason
    console = Console(width=160, record=True)
    console.print(trial_table(info, 10))
    text = console.export_text()
    assert "dead" in text and "trial 1 dead" in text and "Segmentation fault" in text


async def test_the_sweep_screen_shows_a_dead_trial_and_why(tmp_path):
    from tui_helpers import make_app, wait_for
    path = dead_trial(tmp_path / "runs")
    app = make_app(tmp_path / "runs", start="sweep")
    async with app.run_test(size=(160, 42)) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "sweep" and app.screen.is_mounted, what="the sweep screen")
        app.screen.open_sweep(path)
        await pilot.pause(0.2)
        text = str(app.screen.query_one("#sweep-status").render())
        assert "trial 1 dead" in text and "Segmentation fault" in text


async def test_the_runs_screen_shows_a_dead_run_and_why(tmp_path):
    from tui_helpers import make_app, wait_for
    runs = tmp_path / "runs"
    dead_run(runs)
    app = make_app(runs, start="runs")
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.table.row_count == 1, what="the runs table")
        await pilot.pause(0.2)
        text = str(app.screen.query_one("#runs-summary").render())
        assert app.screen.rows[0].info.status == "dead"
        assert "dead:" in text and "Segmentation fault" in text and "without a final event" in text


async def test_the_app_stops_its_runs_when_terminated_and_detaches_them_only_when_asked(tmp_path):
    from diffrec_tui.live import LiveRun
    from engine.config import schema as config
    from engine.records.runs import RunDir
    from tui_helpers import answer_quit, make_app
    code = "import signal, time; signal.signal(signal.SIGINT, lambda *a: exit(3)); time.sleep(60)"
    procs = []
    try:
        for choice in ("terminate", "leave"):
            run = RunDir.create(tmp_path / "runs", config.resolve({"epochs": 3}))
            proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
            procs.append(proc)
            run.record_worker(proc.pid, os.getpid())
            run.event("started", pid=proc.pid)
            app = make_app(tmp_path / "runs", start="train")
            async with app.run_test(size=(140, 42)) as pilot:
                app.started.append(LiveRun(run, proc))
                if choice == "terminate":
                    app.terminate()  # what SIGTERM / SIGHUP do in a real terminal
                else:
                    await answer_quit(pilot, "l")
            if choice == "terminate":
                assert proc.wait(timeout=10) == 3 and app.return_code == 143
            else:
                assert proc.poll() is None and run.worker()["supervisor"] is None  # left running
    finally:
        for p in procs:
            p.kill()
            p.wait()
