"""Bayesian search (Optuna TPE) and pruning in the sweep coordinator (engine.search.optuna_search,
engine.search.pruning, engine.processes.sweep_search).

A stand-in worker writes the run-directory contract with a validation curve known in advance:
valid recall@20 at epoch e = score(params) * e / epochs, so the final value ranks the trials and
the pruner sees the same ranking at every rung. It stops at an epoch boundary on SIGINT."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import schema as config_mod
from engine.records.runs import RunDir, list_runs
from engine.processes.sweep_runner import Runner
from engine.records.sweeps import SweepDir, load_sweep
from engine.search import optuna_search, pruning, space as tuning

REPO = Path(__file__).resolve().parents[2]

CURVE_WORKER = r"""
import json, math, os, signal, sys, time
from engine.records.runs import RunDir
run = RunDir(sys.argv[1]); resume = "--resume" in sys.argv
cfg = run.config()
stop = []
signal.signal(signal.SIGINT, lambda *a: stop.append(1))
run.event("started", pid=os.getpid(), model=cfg["model"])
score = 0.1 + 40 * cfg["learning_rate"] + 0.01 * cfg["steps"] - abs(math.log10(cfg["noise_scale"]) + 3) * 0.02
best, status = {}, "finished"
for epoch in range(1, cfg["epochs"] + 1):
    time.sleep(0.01)
    if stop:
        status = "stopped"; break
    run.event("epoch", epoch=epoch, loss=1.0 / epoch)
    if epoch % cfg["eval_step"] == 0:
        v = score * epoch / cfg["epochs"]
        valid = {"recall@20": v, "ndcg@20": v / 2}
        run.event("eval", epoch=epoch, valid=valid, test={"recall@20": v * 0.9})
        best = {"epoch": epoch, "valid": valid, "test": {"recall@20": v * 0.9}}
        time.sleep(0.03)  # room for the coordinator to read the evaluation
s = {"status": status, "best_epoch": best.get("epoch", 0), "epochs_run": epoch, "valid": best.get("valid", {}),
     "test": best.get("test", {}), "reason": "stopped by user" if stop else "reached epochs"}
run.event(status, **s); run.write_summary(s)
"""

SPACE = """\
learning_rate choice [0.001, 0.002, 0.004]
steps choice [2, 5, 10]
noise_scale loguniform -9 -2
"""
BASE = {"data_format": "synthetic", "synthetic_users": 200, "synthetic_items": 100, "epochs": 12,
        "eval_step": 2, "topk": [20], "metrics": ["Recall", "NDCG"]}


class Spawn:
    def __init__(self):
        self.calls = []

    def __call__(self, run_dir, resume=False, env=None):
        self.calls.append(Path(run_dir))
        cmd = [sys.executable, "-c", CURVE_WORKER, str(run_dir)] + (["--resume"] if resume else [])
        return subprocess.Popen(cmd, cwd=str(REPO), env=env, start_new_session=True, stdin=subprocess.DEVNULL)


def make(tmp_path, text=SPACE, search="bayes", trials=12, prune="none", base=None):
    base = config_mod.resolve({**BASE, **(base or {})})
    space = tuning.parse(text)
    strategy, plan = tuning.plan(space, base, trials, seed=base["seed"], search=search)
    return SweepDir.create(tmp_path, "hyper", space, base, strategy, plan, seed=base["seed"], hyper_text=text,
                           size=trials if strategy == "bayes" else None, prune=prune,
                           pruner=pruning.settings(prune, base))


def run(sd, workers=1, **kw):
    spawn = Spawn()
    return Runner(sd.path, workers=workers, threads=1, spawn=spawn, poll_seconds=0.01).run(**kw), spawn


# ---------------------------------------------------------------- the space in Optuna's terms

def test_every_hyper_test_line_maps_to_a_distribution_and_back():
    space = tuning.parse("dims_dnn choice ['[300]','[200,600]']\nw_min uniform 0.1 0.5\n"
                         "noise_scale loguniform -9 -2\nsteps quniform 4 48 4\n")
    dists = optuna_search.distributions(space)
    assert dists["dims_dnn"].choices == (0, 1)
    assert (dists["w_min"].low, dists["w_min"].high, dists["w_min"].log) == (0.1, 0.5, False)
    assert dists["noise_scale"].log and dists["noise_scale"].low == pytest.approx(math.exp(-9))
    assert dists["noise_scale"].high == pytest.approx(math.exp(-2))
    params = optuna_search.to_params(space, {"dims_dnn": 1, "w_min": 0.1234567, "noise_scale": 0.00123456789,
                                             "steps": 13.9})
    # typed as random search types them: a list, 6 significant digits, a rounded int step
    assert params == {"dims_dnn": [200, 600], "w_min": 0.123457, "noise_scale": 0.00123457, "steps": 12}
    raw = optuna_search.to_raw(space, params)
    assert raw["dims_dnn"] == 1 and raw["steps"] == 12.0 and raw["noise_scale"] == pytest.approx(0.00123457)
    assert optuna_search.to_raw(space, {**params, "dims_dnn": [1000]}) is None  # not in the space
    assert optuna_search.to_raw(space, {**params, "steps": 52})["steps"] == 48.0  # quniform's rounding, clamped


def test_asha_rungs_are_evaluation_epochs_of_the_base_config():
    assert pruning.settings("asha", {"epochs": 40, "eval_step": 2}) == {"min_resource": 4, "reduction_factor": 3}
    assert pruning.settings("asha", {"epochs": 12, "eval_step": 5}) == {"min_resource": 5, "reduction_factor": 3}
    assert pruning.settings("median", {"epochs": 40, "eval_step": 2})["n_warmup_steps"] == 3
    assert pruning.settings("none", {"epochs": 40, "eval_step": 2}) == {}
    opts = {"min_resource": 4, "reduction_factor": 3}
    assert pruning.rung_attrs("asha", opts, {2: 0.1, 4: 0.2, 6: 0.3, 12: 0.4}) == \
        {"completed_rung_0": 0.2, "completed_rung_1": 0.4}


def test_plan_refuses_searches_that_do_not_fit_the_flags():
    space = tuning.parse(SPACE)
    base = config_mod.resolve(BASE)
    with pytest.raises(tuning.ConfigError, match="--search bayes: needs --trials N"):
        tuning.plan(space, base, None, search="bayes")
    with pytest.raises(tuning.ConfigError, match="drop --trials"):
        tuning.plan(tuning.parse("steps choice [2, 5]\n"), base, 3, search="grid")
    assert tuning.plan(space, base, 5, search="bayes") == ("bayes", [])


# ---------------------------------------------------------------- bayes

def proposals(sd):
    return [(r["trial"], r["params"]) for r in sd.records() if "proposed" in r]


def test_bayes_is_seeded_proposes_its_trials_and_picks_the_best_by_validation(tmp_path):
    sd = make(tmp_path / "a")
    info, spawn = run(sd)
    assert len(info.trials) == 12 and info.status == "finished"
    assert all(t.status == "finished" for t in info.trials)
    again = make(tmp_path / "b")
    run(again)
    assert proposals(again) == proposals(sd)  # same seed, same proposals
    other = make(tmp_path / "c", base={"seed": 7})
    run(other)
    assert proposals(other) != proposals(sd)
    best = info.best
    assert best.value == max(t.value for t in info.trials)
    rows = sd.csv_file.read_text().splitlines()
    assert len(rows) == 13 and rows[0].startswith("trial,status,learning_rate,steps,noise_scale,valid_recall@20")
    for _, params in proposals(sd):  # typed and in the space
        assert params["learning_rate"] in (0.001, 0.002, 0.004) and isinstance(params["steps"], int)
        assert math.exp(-9) <= params["noise_scale"] <= math.exp(-2)
    # repeats of a finished config take its result instead of training again
    assert len(spawn.calls) == sum(1 for t in info.trials if t.same_as is None)


def test_a_bayes_trial_that_repeats_a_finished_config_is_not_run_again(tmp_path):
    sd = make(tmp_path, text="learning_rate choice [0.001, 0.004]\nsteps choice [5]\nnoise_scale choice [0.001]\n"
                             "w_min choice [0.1, 0.2, 0.3]\n", trials=8)
    info, spawn = run(sd, workers=2)
    assert len(info.trials) == 8 and len(spawn.calls) <= 2  # w_min is inert: 2 distinct configs
    twins = [t for t in info.trials if t.same_as is not None]
    assert twins and all(t.seconds == 0.0 and t.value == info.trials[t.same_as - 1].value for t in twins)


# ---------------------------------------------------------------- pruning

def test_asha_prunes_bad_trials_records_them_and_never_picks_one_as_best(tmp_path):
    sd = make(tmp_path, search="random", trials=12, prune="asha")
    assert sd.meta()["pruner"] == {"min_resource": 2, "reduction_factor": 3}
    info, _ = run(sd)
    pruned = [t for t in info.trials if t.status == "pruned"]
    finished = [t for t in info.trials if t.status == "finished"]
    assert pruned and finished and info.status == "finished"
    assert info.best.status == "finished" and info.best.value == max(t.value for t in finished)
    for t in pruned:
        assert t.pruned["by"] == "asha" and t.pruned["epoch"] in (2, 6) and t.epochs < 12
        assert t.reason.startswith(f"pruned by asha at epoch {t.pruned['epoch']}: valid recall@20")
        summary = RunDir(t.run).summary()
        assert summary["status"] == "pruned" and summary["pruned"]["epoch"] == t.pruned["epoch"]
    rows = {int(r.split(",")[0]): r.split(",")[1] for r in sd.csv_file.read_text().splitlines()[1:]}
    assert {i for i, s in rows.items() if s == "pruned"} == {t.index for t in pruned}
    runs = {r.path: r.status for r in list_runs(sd.path)}  # the Runs screen's listing says pruned
    assert all(runs[t.run] == "pruned" for t in pruned)
    ends = [r for r in sd.records() if r["status"] == "pruned"]
    assert all(r["pruned"]["value"] == pytest.approx(r["curve"][str(r["pruned"]["epoch"])]) for r in ends)

    # a resumed sweep runs no pruned trial again
    info2, spawn2 = run(sd)
    assert spawn2.calls == [] and [t.status for t in info2.trials] == [t.status for t in info.trials]


def test_bayes_with_median_pruning_has_pruned_trials_and_a_finished_best(tmp_path):
    sd = make(tmp_path, trials=14, prune="median")
    info, _ = run(sd)
    assert any(t.status == "pruned" for t in info.trials)
    assert info.best is not None and info.best.status == "finished"


def test_a_stopped_bayes_sweep_resumes_the_same_search(tmp_path):
    sd = make(tmp_path, trials=10, prune="asha")
    stop_after = {"n": 0}

    def should_stop():
        return sum(1 for r in sd.records() if r["status"] in ("finished", "pruned")) >= 4

    info, spawn = run(sd, should_stop=should_stop)
    assert info.status == "stopped" and len(info.trials) < 10
    done = {t.index: (t.status, t.run) for t in info.trials if t.status in ("finished", "pruned")}
    assert len(done) >= 4
    info2, spawn2 = run(sd)
    assert info2.status == "finished" and len(info2.trials) == 10
    assert all((t.status, t.run) == done[t.index] for t in info2.trials if t.index in done)
    assert not set(spawn2.calls) & {run_ for _, run_ in done.values()}  # nothing ended runs again
    assert [i for i, _ in proposals(sd)] == list(range(1, 11))  # the plan grew on to --trials
    assert json.loads(sd.state_file.read_text())["status"] == "finished"
    assert load_sweep(sd.path).todo == 0
