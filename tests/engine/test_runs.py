"""The run directory: create, write and read events, follow a growing file, list runs."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime

import pytest

from engine.config import schema as config
from engine.records.events import EventFollower, read_events
from engine.records.runs import RunDir, list_runs, load_run, pid_alive, runs_root


def test_create_names_the_run_and_writes_the_resolved_config(runs_dir, tiny_config):
    cfg = tiny_config(dataset="ml 1m/clean")
    now = datetime(2024, 5, 6, 7, 8, 9)
    a = RunDir.create(runs_dir, cfg, now=now)
    b = RunDir.create(runs_dir, cfg, now=now)
    assert a.id == "20240506-070809-DiffRec-ml_1m_clean"
    assert b.id == a.id + "-2" and a.path != b.path
    assert config.resolve(a.config()) == cfg and set(a.config()) == set(config.SCHEMA)
    fresh = RunDir.create(runs_dir, cfg)
    assert re.fullmatch(r"\d{8}-\d{6}-DiffRec-ml_1m_clean(-\d+)?", fresh.id)


def test_events_are_appended_one_json_line_each(runs_dir, tiny_config):
    run = RunDir.create(runs_dir, tiny_config())
    ev = run.event("epoch", epoch=1, loss=0.5, seconds=0.1, epochs=4)
    run.event("eval", epoch=1, valid={"recall@20": 0.1}, test={"recall@20": 0.2}, seconds=0.3)
    lines = run.events_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and json.loads(lines[0]) == ev
    assert ev["type"] == "epoch" and isinstance(ev["time"], float)
    assert [e["type"] for e in run.events()] == ["epoch", "eval"]
    assert run.events()[1]["valid"] == {"recall@20": 0.1}


def test_read_events_skips_a_partial_last_line_and_corrupt_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "started", "time": 1}\n'
                    'garbage\n'
                    '[1, 2]\n'
                    '{"no_type": 1}\n'
                    '\n'
                    '{"type": "epoch", "epoch": 1, "time": 2}\n'
                    '{"type": "epoch", "epo', encoding="utf-8")
    assert [e["type"] for e in read_events(path)] == ["started", "epoch"]
    assert read_events(tmp_path / "missing.jsonl") == []


def test_event_follower_returns_only_complete_new_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    follower = EventFollower(path)
    assert follower.poll() == []  # no file yet
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"type": "started", "time": 1}\n{"type": "epoch", "ep')
    assert [e["type"] for e in follower.poll()] == ["started"]
    assert follower.poll() == []
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('och": 1, "time": 2}\n')
    got = follower.poll()
    assert got == [{"type": "epoch", "epoch": 1, "time": 2}]
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"type": "eval", "epoch": 1, "time": 3}\n{"type": "checkpoint", "epoch": 1, "time": 4}\n')
    assert [e["type"] for e in follower.poll()] == ["eval", "checkpoint"]
    # A follower that starts at an offset sees only what comes after it.
    late = EventFollower(path, offset=path.stat().st_size)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"type": "finished", "time": 5}\n')
    assert [e["type"] for e in late.poll()] == ["finished"]
    assert [e["type"] for e in follower.poll()] == ["finished"]


def test_summary_round_trip(runs_dir, tiny_config):
    run = RunDir.create(runs_dir, tiny_config())
    assert run.summary() is None
    run.write_summary({"status": "finished", "best_epoch": 2, "valid": {"recall@20": 0.3}})
    assert run.summary()["best_epoch"] == 2
    run.summary_file.write_text("{broken", encoding="utf-8")
    assert run.summary() is None


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_pid_alive():
    assert pid_alive(os.getpid())
    assert not pid_alive(dead_pid())
    assert not pid_alive(None) and not pid_alive(0)
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _ in range(200):  # wait until it has exited but is not yet reaped
            with open(f"/proc/{zombie.pid}/stat", encoding="ascii") as fh:
                if fh.read().split(")")[-1].split()[0] == "Z":
                    break
            time.sleep(0.02)
        assert not pid_alive(zombie.pid)
    finally:
        zombie.wait()


def make_run(root, cfg, when, events=(), summary=None):
    run = RunDir.create(root, cfg, now=when)
    for ev in events:
        ev = dict(ev)
        run.event(ev.pop("type"), **ev)
    if summary:
        run.write_summary(summary)
    return run


def test_list_runs_statuses_newest_first(runs_dir, tiny_config):
    cfg = tiny_config()
    ev_valid = lambda r: {"recall@20": r}  # noqa: E731
    started = {"type": "started", "pid": os.getpid()}
    make_run(runs_dir, cfg, datetime(2024, 1, 1), [started, {"type": "epoch", "epoch": 1},
             {"type": "finished", "status": "finished"}],
             {"status": "finished", "best_epoch": 1, "valid": ev_valid(0.3), "test": ev_valid(0.2)})
    make_run(runs_dir, cfg, datetime(2024, 1, 2), [started, {"type": "stopped"}], {"status": "stopped"})
    make_run(runs_dir, cfg, datetime(2024, 1, 3), [started, {"type": "failed", "reason": "x", "kind": "input"}])
    make_run(runs_dir, cfg, datetime(2024, 1, 4), [{"type": "started", "pid": dead_pid()},
                                                   {"type": "epoch", "epoch": 1}, {"type": "epoch", "epoch": 2}])
    make_run(runs_dir, cfg, datetime(2024, 1, 5), [
        started, {"type": "epoch", "epoch": 1},
        {"type": "eval", "epoch": 1, "valid": ev_valid(0.1), "test": ev_valid(0.15)},
        {"type": "epoch", "epoch": 2},
        {"type": "eval", "epoch": 2, "valid": ev_valid(0.2), "test": ev_valid(0.05)},
        {"type": "epoch", "epoch": 3},
        {"type": "eval", "epoch": 3, "valid": ev_valid(0.12), "test": ev_valid(0.3)}])
    make_run(runs_dir, cfg, datetime(2024, 1, 6))  # created, worker not started yet
    (runs_dir / "not-a-run").mkdir()
    (runs_dir / "stray.txt").write_text("x")

    runs = list_runs(runs_dir)
    assert [r.status for r in runs] == ["running", "running", "dead", "failed", "stopped", "finished"]
    assert [r.id[:8] for r in runs] == ["20240106", "20240105", "20240104", "20240103", "20240102", "20240101"]
    live = runs[1]
    assert live.epochs == 3
    assert live.best == (ev_valid(0.2), ev_valid(0.05))  # chosen on valid, never on test
    assert runs[2].epochs == 2
    assert runs[5].best == (ev_valid(0.3), ev_valid(0.2))
    assert runs[0].started_at is None and live.started_at is not None
    assert runs[5].config["seed"] == 7 and runs[5].summary["best_epoch"] == 1


def test_list_runs_on_a_missing_root(tmp_path):
    assert list_runs(tmp_path / "none") == []


def test_load_run_survives_a_broken_config(runs_dir, tiny_config):
    run = make_run(runs_dir, tiny_config(), datetime(2024, 2, 2), [{"type": "failed", "reason": "r"}])
    run.config_file.write_text("{{{", encoding="utf-8")
    info = load_run(run.path)
    assert info.config == {} and info.status == "failed"


def test_runs_root_is_absolute_and_follows_flag_config_env_default(monkeypatch, tmp_path):
    """Issue 11: the runs directory is resolved against the caller's folder once, so what
    travels to workers is absolute; --runs-dir > checkpoint_dir (RecBole) > env > ./runs."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIFFREC_RUNS_DIR", raising=False)
    assert runs_root() == tmp_path / "runs"
    monkeypatch.setenv("DIFFREC_RUNS_DIR", "env_runs")
    assert runs_root() == tmp_path / "env_runs"
    assert runs_root(cfg={"checkpoint_dir": "saved"}) == tmp_path / "saved"
    assert runs_root("elsewhere", {"checkpoint_dir": "saved"}) == tmp_path / "elsewhere"
    assert runs_root(cfg={"checkpoint_dir": None}) == tmp_path / "env_runs"


@pytest.mark.parametrize("name", ["config_file", "events_file", "checkpoint_file", "resume_file",
                                  "summary_file", "log_file"])
def test_run_files(tmp_path, name):
    expected = {"config_file": "config.yaml", "events_file": "events.jsonl", "checkpoint_file": "checkpoint.pt",
                "resume_file": "resume.pt", "summary_file": "summary.json", "log_file": "worker.log"}[name]
    assert getattr(RunDir(tmp_path), name) == tmp_path / expected
