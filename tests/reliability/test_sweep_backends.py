"""Ctrl-C on a sweep's coordinator, for each backend: the running trial stops at a batch
boundary, the command exits 130 and leaves no process behind, and --resume finishes the
sweep, continuing the stopped trial in its own run directory."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from faults import alive, cli, events, runs_in, start_cli, tiny, wait_until

BACKENDS = ["local", pytest.param("ray", marks=pytest.mark.skipif(
    __import__("importlib").util.find_spec("ray") is None, reason="Ray is not installed (diffrec-tui[ray])"))]


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (Linux /proc), the workers and whatever they started."""
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        try:
            kids = [int(c) for t in Path(f"/proc/{p}/task").iterdir()
                    for c in (t / "children").read_text().split()]
        except OSError:
            continue
        out.update(kids)
        todo.extend(kids)
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_stops_a_sweep_cleanly_and_resume_finishes_it(tmp_path, backend):
    runs, hyper = tmp_path / "runs", tmp_path / "hyper.test"
    hyper.write_text("learning_rate choice [0.001, 0.002]\n")
    config = tiny(tmp_path / "c.yaml", epochs=60, eval_step=1, stopping_step=1000)
    proc = start_cli("--tune", hyper, "--config", config, "--runs-dir", runs, "--workers", "1",
                     "--backend", backend)
    try:
        sweep = wait_until(lambda: runs_in(runs)[0] if runs_in(runs) else None, 60, what="the sweep directory")
        run = wait_until(lambda: next((r for r in runs_in(sweep) if (r / "resume.pt").is_file()), None), 120,
                         what="a trial with its first resume point")
        procs = descendants(proc.pid)
        os.kill(proc.pid, signal.SIGINT)  # what Ctrl-C sends the coordinator
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in out + err, (proc.returncode, err)
    assert f"diffrec-tui --resume {sweep}" in out
    assert procs and wait_until(lambda: not any(alive(p) for p in procs), 30, what="every child process to end")
    from engine.records.sweeps import load_sweep
    info = load_sweep(sweep)
    assert [t.status for t in info.trials] == ["stopped", "pending"] and info.status == "stopped"
    assert events(run)[-1]["type"] == "stopped"

    res = cli("--resume", sweep, "--backend", backend, timeout=300)
    assert res.returncode == 0 and "Traceback" not in res.stdout + res.stderr, res.stderr
    info = load_sweep(sweep)
    assert [t.status for t in info.trials] == ["finished", "finished"] and info.trials[0].run == run
    resumed = [e for e in events(run) if e["type"] == "started"][-1]
    assert resumed["resumed_from_epoch"] >= 1 and events(run)[-1]["type"] == "finished"
    assert len(runs_in(sweep)) == 2


def test_a_long_lived_worker_stops_when_its_coordinator_is_killed_and_resume_continues(tmp_path):
    """kill -9 leaves the coordinator no time: its worker sees stdin close (and its supervisor
    gone), stops the trial at a batch boundary, notes its exit and ends; --resume finishes."""
    runs, hyper = tmp_path / "runs", tmp_path / "hyper.test"
    hyper.write_text("learning_rate choice [0.001]\n")
    config = tiny(tmp_path / "c.yaml", epochs=60, eval_step=1, stopping_step=1000)
    proc = start_cli("--tune", hyper, "--config", config, "--runs-dir", runs, "--workers", "1")
    try:
        sweep = wait_until(lambda: runs_in(runs)[0] if runs_in(runs) else None, 60, what="the sweep directory")
        run = wait_until(lambda: next((r for r in runs_in(sweep) if (r / "resume.pt").is_file()), None), 120,
                         what="a trial with its first resume point")
        from engine.records.runs import RunDir, load_run
        pid = RunDir(run).worker()["pid"]
        proc.kill()
        proc.wait(timeout=10)
    finally:
        proc.kill()
    wait_until(lambda: not alive(pid), 40, what="the orphaned worker to stop")
    assert events(run)[-1]["type"] == "stopped" and load_run(run).status == "stopped"
    assert RunDir(run).worker()["exit"] == 0 and "Traceback" not in (run / "worker.log").read_text()

    res = cli("--resume", sweep, timeout=300)
    assert res.returncode == 0 and "Traceback" not in res.stdout + res.stderr, res.stderr
    assert events(run)[-1]["type"] == "finished" and len(runs_in(sweep)) == 1
