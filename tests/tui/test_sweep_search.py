"""The Sweep screen's search, pruner and backend choices, pruned trials and the best-so-far
curve (issue 15), on a bayes sweep written here the way the coordinator writes one."""
from __future__ import annotations

import sys
import time

from textual.widgets import Select, Static, TextArea, Input

from engine.config import schema as config_mod
from engine.records.runs import RunDir
from engine.records.sweeps import SweepDir, load_sweep
from engine.search import pruning, space as tuning
from diffrec_tui import sweeps
from tui_helpers import SIZE, make_app, wait_for

TEXT = "learning_rate choice [1e-3,1e-4]\nsteps choice [5,10]\n"
# (learning_rate, steps, status, value): trial 2 pruned, 3 failed, 4 the best
TRIALS = [(1e-4, 5, "finished", 0.21), (1e-4, 10, "pruned", 0.05), (1e-3, 5, "failed", None),
          (1e-3, 10, "finished", 0.27), (1e-3, 5, "finished", 0.25)]


def bayes_sweep(root):
    base = config_mod.resolve({"data_format": "synthetic", "epochs": 12, "eval_step": 2})
    sd = SweepDir.create(root, "bayes", tuning.parse(TEXT), base, "bayes", [], seed=1, hyper_text=TEXT, size=6,
                         prune="asha", pruner=pruning.settings("asha", base))
    for i, (lr, steps, status, value) in enumerate(TRIALS, start=1):
        params = {"learning_rate": lr, "steps": steps}
        run = RunDir.create(sd.path, tuning.trial_config(base, params))
        sd.record({"trial": i, "status": "pending", "params": params, "proposed": {"learning_rate": 0, "steps": 0}})
        end = {"trial": i, "status": status, "params": params, "run": run.path.name, "value": value,
               "valid": {"recall@20": value} if value else {}, "epochs": 4 if status == "pruned" else 12,
               "seconds": 3.0, "reason": "pruned by asha at epoch 4" if status == "pruned" else ""}
        if status == "pruned":
            end["pruned"] = {"epoch": 4, "value": value, "by": "asha"}
        sd.record(end)
        time.sleep(0.01)
    sd.write_state(status="stopped", pid=None)
    return sd


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def test_best_so_far_counts_finished_trials_only(tmp_path):
    info = load_sweep(bayes_sweep(tmp_path).path)
    assert info.size == 6 and info.status == "stopped"
    assert info.todo == 2  # the failed trial runs again, and one is still to propose
    xs, ys = sweeps.best_so_far(info, "trial")
    assert xs == [1.0, 2.0, 3.0, 4.0, 5.0] and ys == [0.21, 0.21, 0.21, 0.27, 0.27]  # pruned 0.05 never counts
    tx, ty = sweeps.best_so_far(info, "time")
    assert ty == ys and tx == sorted(tx) and all(x >= 0 for x in tx)
    assert info.best.index == 4


def test_the_coordinator_command_names_the_backend_only_for_ray(tmp_path):
    local = sweeps.coordinator_command(tmp_path, 2, "local")
    assert local[1:] == ["-m", "engine.processes.sweep_runner", str(tmp_path), "--workers", "2"]
    assert sweeps.coordinator_command(tmp_path, None, "ray")[-2:] == ["--backend", "ray"]
    check = sweeps.check_space(TEXT, 5, search="bayes", prune="asha")
    assert not check.error and check.summary == "2 parameters: Bayesian (TPE) search, 5 trials, asha pruning"
    assert sweeps.check_space(TEXT, None, search="bayes").error == "bayes search needs a number of trials"
    assert "clear trials" in sweeps.check_space(TEXT, 3, search="grid").error


async def test_a_bayes_sweep_shows_pruned_trials_and_the_best_so_far_curve(runs_dir):
    sd = bayes_sweep(runs_dir)
    app = make_app(runs_dir, start="sweep")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "sweep" and app.screen.is_mounted
                       and app.screen.table.row_count == 5, what="the bayes sweep")
        screen = app.screen
        status = text(screen, "#sweep-status")
        assert "bayes of 6 trials, asha pruning" in status and "3 finished, 1 pruned, 1 failed" in status
        assert "best: trial 4" in status
        assert [str(c) for c in screen.table.get_row("2")[:2]] == ["2", "pruned"]
        # bayes: the plot opens on the best-so-far curve against the trial number
        assert screen.query_one("#sweep-param", Select).value == "@trial"
        curve, scatter = screen.query_one("#sweep-best"), screen.query_one("#sweep-scatter")
        assert curve.display and not scatter.display
        assert list(curve.series[0].ys) == [0.21, 0.21, 0.21, 0.27, 0.27]
        # the chart draws once it has its size: under load that can be a frame after the rows
        await wait_for(pilot, lambda: "best valid recall@20 so far" in str(curve.render()), what="the curve drawn")
        screen.query_one("#sweep-param", Select).value = "@time"
        await wait_for(pilot, lambda: curve.xlabel.startswith("minutes"), what="the wall-time curve")
        screen.query_one("#sweep-param", Select).value = "steps"
        await wait_for(pilot, lambda: scatter.display and not curve.display, what="the scatter again")
        assert sorted(scatter.data.xs) == [5, 5, 10]  # finished trials only: no pruned point
        assert str(screen.sweep_list.get_row_at(0)[1]) == "stopped 5/6"  # ended: finished, pruned, failed


async def test_setup_choices_reach_the_sweep_and_its_coordinator(runs_dir, monkeypatch):
    app = make_app(runs_dir, start="sweep")
    launched = []
    monkeypatch.setattr(app, "launch_sweep", lambda path, workers=None, backend="local": launched.append(
        (path, workers, backend)))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "sweep" and app.screen.is_mounted, what="the screen")
        screen = app.screen
        screen.query_one("#sweep-space", TextArea).load_text(TEXT)
        screen.query_one("#sweep-search", Select).value = "bayes"
        await wait_for(pilot, lambda: "bayes search needs a number of trials" in text(screen, "#sweep-check"),
                       what="the trials error")
        screen.query_one("#sweep-trials", Input).value = "3"
        screen.query_one("#sweep-prune", Select).value = "median"
        screen.query_one("#sweep-backend", Select).value = "ray"
        await wait_for(pilot, lambda: "Bayesian (TPE) search, 3 trials, median pruning" in text(screen, "#sweep-check"),
                       what="the check")
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: launched, what="the launch")
        path, workers, backend = launched[0]
        meta = load_sweep(path).meta
        assert (meta["strategy"], meta["trials"], meta["prune"], meta["plan"]) == ("bayes", 3, "median", [])
        assert meta["pruner"]["n_startup_trials"] == pruning.MEDIAN_STARTUP and backend == "ray"


async def test_the_runs_screen_shows_a_pruned_run_and_why(runs_dir):
    from tui_helpers import FINISHED
    run = RunDir(runs_dir / FINISHED)
    stopped = {**run.summary(), "status": "stopped", "reason": "stopped by user"}
    run.event("started", pid=1)  # resumed, then stopped by the sweep's pruner
    run.event("stopped", **stopped)
    run.write_summary(stopped)
    assert run.mark_pruned(4, 0.1234, "asha", "pruned by asha at epoch 4: valid recall@20 0.1234")["status"] == "pruned"
    assert run.mark_pruned(4, 0.1234, "asha", "again") is None  # only a stopped run is marked
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.screen.table.row_count == 5,
                       what="the runs table")
        screen = app.screen
        screen.query_one("#runs-filter", Input).value = "pruned"
        await wait_for(pilot, lambda: screen.table.row_count == 1, what="the filter")
        assert "pruned" in [str(c) for c in screen.table.get_row_at(0)]
        screen.table.move_cursor(row=0, animate=False)
        await wait_for(pilot, lambda: "pruned: pruned by asha at epoch 4" in
                       str(screen.query_one("#runs-summary", Static).render()), what="the reason")
