"""hyper.test parsing, search enumeration, and the sweep scheduler (engine.search.space, engine.records.sweeps).

The scheduler tests use a stand-in worker (a few lines of Python writing the run-directory
contract) so they run in a second; tests/cli/test_tune.py runs real training workers."""
from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.config import schema as config_mod
from engine.config import files as config_files
from engine.search import space as tuning
from engine.errors import ConfigError
from engine.records.runs import RunDir, list_runs
from engine.processes.sweep_runner import Runner
from engine.records.sweeps import SweepDir, load_sweep

REPO = Path(__file__).resolve().parents[2]

ISSUE_EXAMPLE = """\
learning_rate choice [1e-3,1e-4,1e-5]
dims_dnn choice ['[300]','[200,600]','[1000]']
steps choice [2,5,10,50]
noise_scale choice [0,1e-5,1e-4,1e-3,1e-2,1e-1]
w_min choice [0.1,0.2,0.3]
"""


# ---------------------------------------------------------------- parser

def test_issue_example_parses_with_schema_types():
    space = tuning.parse(ISSUE_EXAMPLE)
    p = {x.key: x for x in space.params}
    assert p["learning_rate"].values == (0.001, 0.0001, 1e-05)
    assert all(type(v) is float for v in p["learning_rate"].values)  # YAML reads 1e-3 as a string
    assert p["dims_dnn"].values == ([300], [200, 600], [1000])  # quoted lists become lists
    assert p["steps"].values == (2, 5, 10, 50) and all(type(v) is int for v in p["steps"].values)
    assert p["noise_scale"].values == (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
    assert [x.line for x in space.params] == [1, 2, 3, 4, 5]
    assert space.is_grid and space.grid_size == 3 * 3 * 4 * 6 * 3


def test_every_line_form_comments_and_blank_lines():
    text = """# a comment line

    reweight choice [true, false]      # inline comment
    noise_schedule choice [linear, Cosine]
    w_min uniform 0.1 0.5
    noise_scale loguniform -9 -2
    steps quniform 4 48 4
    """
    space = tuning.parse(text)
    kinds = {p.key: p for p in space.params}
    assert kinds["reweight"].values == (True, False)
    assert kinds["noise_schedule"].values == ("linear", "cosine")  # the schema's spelling
    assert (kinds["w_min"].kind, kinds["w_min"].low, kinds["w_min"].high, kinds["w_min"].line) == ("uniform", 0.1, 0.5, 5)
    assert kinds["noise_scale"].kind == "loguniform"
    assert (kinds["steps"].kind, kinds["steps"].q) == ("quniform", 4.0)
    assert not space.is_grid


@pytest.mark.parametrize("text, message", [
    ("learning_rate choice [1e-3]\nsteps choice [2]\nnoice_scale choice [0.1]\n",
     "hyper.test line 3: unknown key `noice_scale` (did you mean `noise_scale`?)"),
    ("\n# c\nsteps choise [2, 5]\n", "hyper.test line 3: unknown search type `choise` (did you mean `choice`?)"),
    ("steps [2, 5]\n", "hyper.test line 1: unknown search type `[2,` (use choice, uniform, loguniform, quniform)"),
    ("steps choice 2, 5\n", "hyper.test line 1: `steps choice` needs a non-empty list"),
    ("steps choice []\n", "hyper.test line 1: `steps choice` needs a non-empty list"),
    ("steps choice [2\n", "hyper.test line 1: `steps choice` needs a non-empty list"),
    ("x\nsteps choice [2, 2.5]\n", "hyper.test line 1: expected"),
    ("steps choice [2, 2.5]\n", "hyper.test line 1: `steps` = 2.5 is not an integer"),
    ("learning_rate choice [0.1, 0]\n", "hyper.test line 1: `learning_rate` = 0.0 must be > 0"),
    ("dims_dnn choice ['[300]', '[a]']\n", "hyper.test line 1: `dims_dnn`"),
    ("w_min uniform 0.5 0.1\n", "hyper.test line 1: `w_min uniform` needs LOW < HIGH"),
    ("w_min uniform 0.1\n", "hyper.test line 1: `w_min uniform` needs 2 numbers LOW HIGH"),
    ("steps quniform 2 50\n", "hyper.test line 1: `steps quniform` needs 3 numbers LOW HIGH Q"),
    ("steps quniform 2 50 0\n", "hyper.test line 1: `steps quniform` needs a step Q > 0"),
    ("dims_dnn uniform 1 5\n", "hyper.test line 1: `dims_dnn` is a list of integers like [200, 600], not a number"),
    ("dropout loguniform -5 1\n", "hyper.test line 1: `dropout` = 2.71828 must be <= 0.99"),
    ("steps choice [2]\n\nsteps choice [5]\n", "hyper.test line 3: `steps` is already set on line 1"),
    ("# only a comment\n\n", "hyper.test: no parameters"),
])
def test_errors_name_the_line(text, message):
    with pytest.raises(ConfigError) as exc:
        tuning.parse(text)
    assert str(exc.value).startswith(message), str(exc.value)
    assert "\n" not in str(exc.value)


def test_read_uses_the_file_name_and_reports_a_missing_file(tmp_path):
    f = tmp_path / "my.hyper"
    f.write_text("steps choice [2]\nnoice_scale uniform 0 1\n")
    with pytest.raises(ConfigError, match=r"^my.hyper line 2: unknown key `noice_scale` \(did you mean `noise_scale`\?\)$"):
        tuning.read(f)
    with pytest.raises(ConfigError, match="file not found"):
        tuning.read(tmp_path / "missing.test")


# ---------------------------------------------------------------- search

def test_grid_enumerates_in_file_order_last_line_fastest():
    space = tuning.parse("learning_rate choice [1e-3,1e-4]\ndims_dnn choice ['[300]','[200,600]']\nsteps choice [2,5,10]\n")
    combos = tuning.grid(space)
    assert len(combos) == 12 == space.grid_size
    assert combos[0] == {"learning_rate": 0.001, "dims_dnn": [300], "steps": 2}
    assert combos[1] == {"learning_rate": 0.001, "dims_dnn": [300], "steps": 5}
    assert combos[3] == {"learning_rate": 0.001, "dims_dnn": [200, 600], "steps": 2}
    assert combos[-1] == {"learning_rate": 0.0001, "dims_dnn": [200, 600], "steps": 10}
    assert len({json.dumps(c) for c in combos}) == 12


def test_random_search_is_seeded_and_respects_each_form():
    space = tuning.parse("w_min uniform 0.1 0.5\nnoise_scale loguniform -9 -2\n"
                         "steps quniform 4 48 4\nmean_type choice [x0, eps]\nembedding_size uniform 4 20\n")
    a, b, c = tuning.sample(space, 200, seed=7), tuning.sample(space, 200, seed=7), tuning.sample(space, 200, seed=8)
    assert a == b and a != c
    for t in a:
        assert 0.1 <= t["w_min"] <= 0.5
        assert math.exp(-9) * 0.999 <= t["noise_scale"] <= math.exp(-2) * 1.001  # exponents of e
        assert t["steps"] % 4 == 0 and 4 <= t["steps"] <= 48 and type(t["steps"]) is int
        assert type(t["embedding_size"]) is int and 4 <= t["embedding_size"] <= 20
        assert t["mean_type"] in ("x0", "eps")
    # loguniform spreads over orders of magnitude, not uniformly over the range
    small = sum(t["noise_scale"] < math.exp(-5.5) for t in a)
    assert 60 < small < 140
    assert {t["mean_type"] for t in a} == {"x0", "eps"}


def test_random_search_on_a_grid_samples_without_replacement():
    space = tuning.parse("learning_rate choice [1e-3,1e-4]\nsteps choice [2,5,10]\n")
    picked = tuning.sample(space, 4, seed=1)
    assert len(picked) == 4 and len({json.dumps(p) for p in picked}) == 4
    assert all(p in tuning.grid(space) for p in picked)
    everything = tuning.sample(space, 50, seed=1)
    assert sorted(map(json.dumps, everything)) == sorted(map(json.dumps, tuning.grid(space)))


def test_plan_grid_random_and_skipped_combinations():
    base = config_mod.resolve({"noise_min": 0.001, "noise_max": 0.005})
    space = tuning.parse("noise_min choice [0.001, 0.01]\nsteps choice [2, 5]\n")
    strategy, trials = tuning.plan(space, base)
    assert strategy == "grid" and [t.index for t in trials] == [1, 2, 3, 4]
    assert [t.skip is None for t in trials] == [True, True, False, False]
    assert trials[2].skip.startswith("noise_min (0.01) must be < noise_max (0.005)")
    strategy, trials = tuning.plan(space, base, trials=3, seed=5)
    assert strategy == "random" and len(trials) == 3
    cont = tuning.parse("steps choice [2]\nw_min uniform 0.1 0.2\n")
    with pytest.raises(ConfigError, match=r"line 2 \(`w_min uniform`\) is continuous: random search needs --trials N"):
        tuning.plan(cont, base)
    with pytest.raises(ConfigError, match="--trials: must be >= 1"):
        tuning.plan(cont, base, trials=0)


def test_lines_that_cannot_change_a_trial_are_reported():
    base = config_mod.resolve({"model": "DiffRec"})
    space = tuning.parse("steps choice [2, 5]\nn_cate choice [1, 2]\nw_min choice [0.1, 0.2]\n")
    found = tuning.inert(space, base)
    assert [(p.key, why) for p, why in found] == [
        ("n_cate", "does not apply to model DiffRec"),
        ("w_min", "has no effect while `time-aware` is false in the base config")]
    assert tuning.inert(tuning.parse("model choice [DiffRec, LDiffRec]\nn_cate choice [1, 2]\n"), base) == []
    assert [p.key for p, _ in tuning.inert(space, config_mod.resolve({"model": "LDiffRec"}))] == ["w_min"]
    assert tuning.inert(space, config_mod.resolve({"model": "LDiffRec", "time-aware": True})) == []
    both = tuning.parse("time-aware choice [true, false]\nw_min choice [0.1, 0.2]\n")
    assert tuning.inert(both, base) == []


def test_same_config_groups_trials_that_differ_only_in_inert_lines():
    base = config_mod.resolve({"model": "DiffRec"})
    space = tuning.parse("steps choice [2, 5]\nw_min choice [0.1, 0.2, 0.3]\n")
    _, trials = tuning.plan(space, base)
    group, why = tuning.same_config(space, base, [{"trial": t.index, "params": t.params} for t in trials])
    assert group == {1: 1, 2: 1, 3: 1, 4: 4, 5: 4, 6: 4}
    assert why == "`w_min` has no effect while `time-aware` is false in the base config"
    on = config_mod.resolve({"time-aware": True})
    group, why = tuning.same_config(space, on, [{"trial": t.index, "params": t.params} for t in trials])
    assert group == {i: i for i in range(1, 7)} and why == ""


def test_trial_config_threads_only_when_nothing_fixes_them():
    base = config_mod.resolve({})
    assert tuning.trial_config(base, {"steps": 2}, threads=3)["threads"] == 3
    assert tuning.trial_config({**base, "threads": 2}, {}, threads=3)["threads"] == 2
    assert tuning.trial_config(base, {"threads": 4}, threads=3)["threads"] == 4
    assert tuning.trial_config(base, {"steps": 7})["steps"] == 7


# ---------------------------------------------------------------- sweep scheduler (stand-in worker)

# Writes the run-directory contract like engine.processes.worker: valid recall@20 = learning_rate x 10,
# test recall@20 = 1 - that (so choosing by test would pick the other end); steps == 13 fails;
# epochs == 77 with learning_rate 0.01 waits for SIGINT and stops (leaving a resume.pt), and
# finishes when resumed.
FAKE_WORKER = r"""
import json, os, signal, sys, time
from engine.records.runs import RunDir
run = RunDir(sys.argv[1]); resume = "--resume" in sys.argv
cfg = run.config()
stop = []
signal.signal(signal.SIGINT, lambda *a: stop.append(1))
run.event("started", pid=os.getpid(), model=cfg["model"], threads=cfg["threads"],
          omp=os.environ.get("OMP_NUM_THREADS"), resumed=resume)
if cfg["steps"] == 13:
    run.event("failed", reason="loss became nan", kind="training")
    run.write_summary({"status": "failed", "reason": "loss became nan"}); sys.exit(1)
if cfg["epochs"] == 77 and cfg["learning_rate"] == 0.01 and not resume:
    while not stop:
        time.sleep(0.02)
    run.resume_file.write_bytes(b"x")
    s = {"status": "stopped", "best_epoch": 1, "epochs_run": 1, "valid": {}, "test": {}, "reason": "stopped by user"}
    run.event("stopped", **s); run.write_summary(s); sys.exit(0)
v = cfg["learning_rate"] * 10
s = {"status": "finished", "best_epoch": 2, "epochs_run": 3, "valid": {"recall@20": v, "ndcg@20": v / 2},
     "test": {"recall@20": 1 - v, "ndcg@20": (1 - v) / 2}, "reason": "reached epochs"}
run.event("finished", **s); run.write_summary(s)
"""


class FakeSpawn:
    def __init__(self):
        self.calls = []

    def __call__(self, run_dir, resume=False, env=None):
        self.calls.append((Path(run_dir), resume, env))
        cmd = [sys.executable, "-c", FAKE_WORKER, str(run_dir)] + (["--resume"] if resume else [])
        return subprocess.Popen(cmd, cwd=str(REPO), env=env, start_new_session=True,
                                stdin=subprocess.DEVNULL)


BASE = {"data_format": "synthetic", "synthetic_users": 200, "synthetic_items": 100, "epochs": 2,
        "topk": [20], "metrics": ["Recall", "NDCG"]}


def make_sweep(tmp_path, text, base=None, trials=None):
    base = config_mod.resolve({**BASE, **(base or {})})
    space = tuning.parse(text)
    strategy, plan = tuning.plan(space, base, trials, seed=base["seed"])
    return SweepDir.create(tmp_path, "hyper", space, base, strategy, plan, seed=base["seed"], hyper_text=text)


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_sweep_records_every_trial_and_picks_the_best_by_validation(tmp_path):
    sd = make_sweep(tmp_path, "learning_rate choice [0.01, 0.03, 0.02]\nsteps choice [5, 13]\n"
                               "noise_min choice [0.0005, 0.5]\n")
    spawn = FakeSpawn()
    info = Runner(sd.path, workers=2, threads=1, spawn=spawn, poll_seconds=0.02).run()
    statuses = [t.status for t in info.trials]
    assert statuses == ["finished", "skipped", "failed", "skipped"] * 3  # a failure does not stop the sweep
    assert len(spawn.calls) == 6 and all(env["OMP_NUM_THREADS"] == "1" for _, _, env in spawn.calls)
    assert info.status == "finished" and json.loads(sd.state_file.read_text())["status"] == "finished"

    rows = read_csv(sd.csv_file)
    assert [int(r["trial"]) for r in rows] == list(range(1, 13))
    assert list(rows[0])[:6] == ["trial", "status", "learning_rate", "steps", "noise_min", "valid_recall@20"]
    by_trial = {int(r["trial"]): r for r in rows}
    assert float(by_trial[5]["valid_recall@20"]) == pytest.approx(0.3)
    assert float(by_trial[5]["test_recall@20"]) == pytest.approx(0.7)
    assert float(by_trial[5]["test_ndcg@20"]) == pytest.approx(0.35)
    assert by_trial[3]["reason"] == "loss became nan" and by_trial[3]["valid_recall@20"] == ""
    assert by_trial[2]["reason"].startswith("noise_min (0.5) must be < noise_max")
    assert by_trial[1]["epochs"] == "3" and by_trial[1]["best_epoch"] == "2"

    # valid chooses (lr 0.03 -> 0.3), although test is best for lr 0.01
    assert info.best.index == 5 and info.best.params == {"learning_rate": 0.03, "steps": 5, "noise_min": 0.0005}
    best = config_files.load(sd.best_file)
    assert (best["learning_rate"], best["steps"], best["threads"]) == (0.03, 5, 0)  # base threads, not the worker's
    assert config_files.diff(best, info.meta["base"]).keys() == {"learning_rate"}

    runs = list_runs(sd.path)  # the Runs screen can list the trials
    assert len(runs) == 6 and sorted(r.status for r in runs) == ["failed"] * 3 + ["finished"] * 3
    lines = [json.loads(x) for x in sd.jsonl_file.read_text().splitlines()]
    assert sum(r["status"] == "running" for r in lines) == 6 and sum(r["status"] == "finished" for r in lines) == 3


def test_resume_skips_finished_trials_and_continues_stopped_ones(tmp_path):
    sd = make_sweep(tmp_path, "learning_rate choice [0.01, 0.02, 0.03]\nepochs choice [2, 77]\n")
    spawn = FakeSpawn()
    # Stop (Ctrl-C) as soon as the epochs=77 trial is running: it is stopped, later ones never start.
    def should_stop():
        return any(rd.name and RunDir(rd).config()["epochs"] == 77 and RunDir(rd).events() for rd, _, _ in spawn.calls)
    t0 = time.monotonic()
    info = Runner(sd.path, workers=1, spawn=spawn, poll_seconds=0.02).run(should_stop=should_stop)
    assert time.monotonic() - t0 < 10  # SIGINT reached the worker; no kill-after-grace wait
    assert [t.status for t in info.trials] == ["finished", "stopped"] + ["pending"] * 4
    assert info.status == "stopped" and json.loads(sd.state_file.read_text())["status"] == "stopped"
    assert [r["status"] for r in read_csv(sd.csv_file)] == ["finished", "stopped"]
    finished_run, stopped_run = info.trials[0].run, info.trials[1].run

    spawn2 = FakeSpawn()
    info = Runner(sd.path, workers=2, spawn=spawn2, poll_seconds=0.02).run()
    assert [t.status for t in info.trials] == ["finished"] * 6
    started = [(rd, resume) for rd, resume, _ in spawn2.calls]
    assert (finished_run, False) not in started and all(rd != finished_run for rd, _ in started)
    assert (stopped_run, True) in started  # continued from its resume.pt, in the same run dir
    assert len(started) == 5 and len(list_runs(sd.path)) == 6
    assert info.trials[0].run == finished_run and info.best.params["learning_rate"] == 0.03

    # a third run finds nothing to do
    spawn3 = FakeSpawn()
    Runner(sd.path, workers=2, spawn=spawn3).run()
    assert spawn3.calls == []


def test_trials_with_the_same_config_run_once_and_share_the_result(tmp_path):
    """w_min cannot change a run while time-aware is off: one trial of each pair runs."""
    sd = make_sweep(tmp_path, "learning_rate choice [0.01, 0.03]\nw_min choice [0.1, 0.2]\n")
    spawn = FakeSpawn()
    info = Runner(sd.path, workers=2, spawn=spawn, poll_seconds=0.02).run()
    assert [t.status for t in info.trials] == ["finished"] * 4
    assert len(spawn.calls) == 2 and len(list_runs(sd.path)) == 2
    assert [t.same_as for t in info.trials] == [None, 1, None, 3]
    assert info.trials[1].run == info.trials[0].run and info.trials[1].value == info.trials[0].value
    assert info.trials[3].test == info.trials[2].test and info.trials[3].seconds == 0.0
    rows = read_csv(sd.csv_file)
    assert rows[1]["valid_recall@20"] == rows[0]["valid_recall@20"] and rows[1]["seconds"] == "0"
    assert rows[1]["reason"] == ("same config as trial 1: `w_min` has no effect while `time-aware` "
                                 "is false in the base config")
    assert info.best.index == 3  # the first of the tied pair

    # a stopped trial whose twin finished takes the twin's result on resume, not a new run
    sd2 = make_sweep(tmp_path / "b", "learning_rate choice [0.01]\nw_min choice [0.1, 0.2]\n")
    first = RunDir.create(sd2.path, tuning.trial_config(sd2.meta()["base"], {"learning_rate": 0.01, "w_min": 0.1}))
    s = {"status": "finished", "best_epoch": 1, "epochs_run": 2, "valid": {"recall@20": 0.25}, "test": {}}
    first.event("finished", **s)
    first.write_summary(s)
    sd2.record({"trial": 1, "status": "running", "params": {}, "run": first.path.name})
    sd2.record({"trial": 1, "status": "finished", "params": {}, "run": first.path.name, "value": 0.25,
                "valid": {"recall@20": 0.25}, "epochs": 2})
    sd2.record({"trial": 2, "status": "stopped", "params": {}, "run": None})
    spawn2 = FakeSpawn()
    info = Runner(sd2.path, workers=2, spawn=spawn2, poll_seconds=0.02).run()
    assert spawn2.calls == [] and [t.status for t in info.trials] == ["finished", "finished"]
    assert info.trials[1].same_as == 1 and info.trials[1].value == 0.25


def test_grace_period_kills_a_worker_that_ignores_sigint(tmp_path):
    sd = make_sweep(tmp_path, "learning_rate choice [0.01]\n")

    def stubborn(run_dir, resume=False, env=None):
        code = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)"
        return subprocess.Popen([sys.executable, "-c", code], start_new_session=True)

    t0 = time.monotonic()
    calls = {"n": 0}

    def should_stop():
        calls["n"] += 1
        return calls["n"] > 3

    info = Runner(sd.path, workers=1, spawn=stubborn, poll_seconds=0.02, stop_grace=0.3).run(should_stop=should_stop)
    assert time.monotonic() - t0 < 10
    t = info.trials[0]
    assert t.status == "failed" and "without a result" in t.reason and "worker.log" in t.reason


def test_load_sweep_reads_trials_whose_coordinator_died(tmp_path):
    sd = make_sweep(tmp_path, "learning_rate choice [0.01, 0.02]\n")
    base = sd.meta()["base"]
    done = RunDir.create(sd.path, tuning.trial_config(base, {"learning_rate": 0.01}))
    s = {"status": "finished", "best_epoch": 1, "epochs_run": 2, "valid": {"recall@20": 0.25}, "test": {"recall@20": 0.2}}
    done.event("finished", **s)
    done.write_summary(s)
    never = RunDir.create(sd.path, tuning.trial_config(base, {"learning_rate": 0.02}))
    sd.write_state(status="running", pid=2 ** 22 + 12345)  # no such process
    sd.record({"trial": 1, "status": "running", "params": {"learning_rate": 0.01}, "run": done.path.name})
    sd.record({"trial": 2, "status": "running", "params": {"learning_rate": 0.02}, "run": never.path.name})
    with open(sd.jsonl_file, "a") as fh:
        fh.write('{"trial": 2, "status": "fini')  # a killed writer's partial line
    info = load_sweep(sd.path)
    assert [t.status for t in info.trials] == ["finished", "dead"]
    assert info.trials[0].value == 0.25 and info.status == "stopped" and info.best.index == 1

    spawn = FakeSpawn()
    info = Runner(sd.path, workers=1, spawn=spawn, poll_seconds=0.02).run()
    assert [rd for rd, _, _ in spawn.calls] != [done.path] and len(spawn.calls) == 1
    assert [t.status for t in info.trials] == ["finished", "finished"]
    ends = [r for r in sd.records() if r["trial"] == 1 and r["status"] == "finished"]
    assert len(ends) == 1 and ends[0]["value"] == 0.25  # the missing end record was written on resume


def test_resume_watches_a_worker_left_running_instead_of_starting_it_again(tmp_path):
    sd = make_sweep(tmp_path, "learning_rate choice [0.02]\n")
    run = RunDir.create(sd.path, tuning.trial_config(sd.meta()["base"], {"learning_rate": 0.02}))
    sd.record({"trial": 1, "status": "running", "params": {"learning_rate": 0.02}, "run": run.path.name})
    # the worker of a coordinator that was killed -9: still training, then finishing on its own
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.8)\n" + FAKE_WORKER, str(run.path)],
                              cwd=str(REPO), start_new_session=True)
    run.event("started", pid=orphan.pid)
    spawn = FakeSpawn()
    info = Runner(sd.path, workers=1, spawn=spawn, poll_seconds=0.02).run()
    orphan.wait()
    assert spawn.calls == []
    assert info.trials[0].status == "finished" and info.trials[0].value == pytest.approx(0.2)
    assert info.trials[0].run == run.path


def test_sweep_yaml_keeps_the_hyper_file_readable_and_reading_needs_no_torch(tmp_path):
    text = "# lr first\nlearning_rate choice [0.01, 0.02]\n\nsteps choice [2]   # one value\n"
    sd = make_sweep(tmp_path, text)
    assert "hyper_text: |" in sd.sweep_file.read_text()
    meta = load_sweep(sd.path).meta
    assert meta["hyper_text"] == text and meta["strategy"] == "grid" and meta["seed"] == 2020
    assert tuning.Space.from_list(meta["space"]) == tuning.parse(text)
    code = ("import sys; from engine.records.sweeps import load_sweep; info = load_sweep(sys.argv[1]); "
            "assert 'torch' not in sys.modules; print(len(info.trials), info.status)")
    out = subprocess.run([sys.executable, "-c", code, str(sd.path)], cwd=str(REPO), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "pending"]


def test_a_directory_without_sweep_yaml_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="is not a sweep directory"):
        load_sweep(tmp_path)


def test_sweep_runner_entry_point_refuses_bad_arguments(tmp_path):
    # the coordinator the app launches: python -m engine.processes.sweep_runner SWEEP_DIR
    import subprocess
    import sys
    for args in ([], ["relative/sweep"], [str(tmp_path / "nothing-here")]):
        res = subprocess.run([sys.executable, "-m", "engine.processes.sweep_runner", *args],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 2 and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
