"""Where a sweep's trials run (engine.processes.backends): long-lived local workers reuse the
loaded dataset and the imported torch trial after trial, survive a stopped trial, and are
replaced when they die; the Ray backend writes the same results as the local one."""
from __future__ import annotations

import csv
import os
import signal
import time

import pytest

from engine.config import schema as config_mod
from engine.processes.backends import LocalBackend
from engine.processes.sweep_runner import Runner
from engine.processes.trial_host import TrialHost, data_key
from engine.records.events import read_events
from engine.records.runs import RunDir, load_run, pid_alive
from engine.records.sweeps import SweepDir
from engine.search import space as tuning
from engine.search.space import trial_config

from conftest import TINY

FAST = {**TINY, "epochs": 2, "eval_step": 1}
LONG = {**TINY, "epochs": 1000, "eval_step": 1, "stopping_step": 1000}


def sweep(tmp_path, text, **over):
    base = config_mod.resolve({**FAST, **over})
    space = tuning.parse(text)
    strategy, plan = tuning.plan(space, base, None, seed=base["seed"])
    return SweepDir.create(tmp_path, "hyper", space, base, strategy, plan, seed=base["seed"], hyper_text=text)


def started(run) -> dict:
    return next(e for e in read_events(RunDir(run).events_file) if e["type"] == "started")


def wait_for(cond, timeout=60.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def rows(sd: SweepDir) -> list[dict]:
    with open(sd.csv_file, newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_long_lived_worker_loads_the_dataset_once_for_every_trial_on_it(tmp_path):
    sd = sweep(tmp_path, "learning_rate choice [0.001, 0.002, 0.003]\n")
    backend = LocalBackend()
    info = Runner(sd.path, workers=1, threads=1, backend=backend, poll_seconds=0.02).run()
    assert [t.status for t in info.trials] == ["finished"] * 3
    loads = [started(t.run)["data_load"] for t in info.trials]
    assert [d["loads"] for d in loads] == [1, 1, 1]  # the worker's counter: one load for three trials
    assert [d["cached"] for d in loads] == [False, True, True]
    assert len({d["host_pid"] for d in loads}) == 1 and backend.spawned == 1
    assert [d["trial"] for d in loads] == [1, 2, 3]
    for t in info.trials:  # each trial's own worker.log and worker.json; the run is not running any more
        run = RunDir(t.run)
        assert run.log_file.is_file() and run.worker()["pid"] == loads[0]["host_pid"]
        assert run.worker()["exit"] == 0 and run.worker_alive() is False and load_run(t.run).status == "finished"
    assert not pid_alive(loads[0]["host_pid"])  # closed with the sweep
    assert sd.workers_log.is_file()


def test_the_data_key_separates_datasets_and_ignores_model_keys():
    a = config_mod.resolve(FAST)
    assert data_key(a) == data_key(config_mod.resolve({**FAST, "learning_rate": 0.5, "steps": 3}))
    assert data_key(a) != data_key(config_mod.resolve({**FAST, "synthetic_users": 301}))
    host = TrialHost()
    ds1, cached1 = host.dataset(a)
    ds2, cached2 = host.dataset(config_mod.resolve({**FAST, "dims_dnn": [32]}))
    assert (cached1, cached2, host.loads) == (False, True, 1) and ds1 is ds2


def test_a_stopped_trial_ends_but_its_worker_takes_the_next_trial(tmp_path):
    base = config_mod.resolve(LONG)
    long_run = RunDir.create(tmp_path, trial_config(base, {"learning_rate": 0.001}, 1))
    short_run = RunDir.create(tmp_path, trial_config(config_mod.resolve(FAST), {"learning_rate": 0.002}, 1))
    backend = LocalBackend(tmp_path / "workers.log")
    try:
        first = backend.start(long_run.path, threads=1)
        wait_for(lambda: any(e["type"] == "epoch" for e in long_run.events()), what="an epoch of the long trial")
        assert first.poll() is None
        assert first.stop(signal.SIGINT)  # as the pruner does: stop this trial at a batch boundary
        wait_for(lambda: first.poll() is not None, 30, "the stop")
        assert first.poll() == 0
        assert long_run.summary()["status"] == "stopped" and pid_alive(first.pid)
        second = backend.start(short_run.path, threads=1)
        assert second.pid == first.pid and backend.spawned == 1
        wait_for(lambda: second.poll() is not None, 60, "the second trial")
        assert second.poll() == 0
        assert short_run.summary()["status"] == "finished"
        load = started(short_run.path)["data_load"]  # LONG and FAST differ in training keys only
        assert load["cached"] is True and load["loads"] == 1
    finally:
        backend.close()
    assert not pid_alive(first.pid)


def test_a_worker_that_dies_is_recorded_like_a_dead_worker_and_replaced(tmp_path):
    sd = sweep(tmp_path, "epochs choice [1000, 2]\n",
               stopping_step=1000)
    killed = {}

    def on_tick():  # kill -9 the worker of the 1000-epoch trial once it trains
        for slot in runner.running.values():
            if not killed and slot.trial.params["epochs"] == 1000 and any(e["type"] == "epoch" for e in slot.run.events()):
                killed[slot.trial.index] = slot.run.worker()["pid"]
                os.kill(killed[slot.trial.index], signal.SIGKILL)

    runner = Runner(sd.path, workers=1, threads=1, poll_seconds=0.02)
    info = runner.run(on_tick=on_tick)
    [(index, pid)] = killed.items()
    t = info.trials[index - 1]
    assert t.status == "failed" and "killed by signal 9" in t.reason and "worker.log" in t.reason
    assert load_run(t.run).status == "dead"
    others = [x for x in info.trials if x.index != index]
    assert all(x.status == "finished" for x in others if x.params["epochs"] == 2)
    assert all(started(x.run)["data_load"]["host_pid"] != pid for x in others if x.index > index)
    assert runner.backend.spawned == 2


def test_a_two_trial_sweep_on_a_local_ray_writes_the_local_backends_results(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'diffrec-tui[ray]')")
    from engine.processes.ray_backend import RayBackend
    text = "learning_rate choice [0.001, 0.003]\n"
    local = sweep(tmp_path / "local", text)
    Runner(local.path, workers=2, threads=1, poll_seconds=0.05).run()
    on_ray = sweep(tmp_path / "ray", text)
    backend = RayBackend(num_cpus=2)
    assert backend.slots() == 2
    info = Runner(on_ray.path, workers=2, threads=1, backend=backend, poll_seconds=0.05).run()
    import ray
    assert not ray.is_initialized()  # closed with the sweep: ray.shutdown()
    assert [t.status for t in info.trials] == ["finished", "finished"]
    a, b = rows(local), rows(on_ray)
    assert list(a[0]) == list(b[0])  # the same columns
    for x, y in zip(a, b):  # the same seeded trials give the same metrics
        assert x["valid_recall@20"] == y["valid_recall@20"] and x["status"] == y["status"]
    assert on_ray.best_file.is_file()
    for t in info.trials:  # trials wrote ordinary run directories with the data from the object store
        assert load_run(t.run).status == "finished"
        assert started(t.run)["data_load"]["loads"] == 0 and started(t.run)["data_load"]["cached"]
