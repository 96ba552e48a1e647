"""Pilot tests of the Train screen with real worker processes (tiny synthetic runs),
plus the stop, crash and quit flows."""
from __future__ import annotations

import json
import os
import signal

import pytest
from textual.widgets import Static

from diffrec_tui.live import LiveRun
from engine.records.runs import RunDir
from tui_helpers import FINISHED, MID_RUN, SIZE, answer_quit, make_app, sleeper, tiny_config, wait_for

RUN_TIMEOUT = 150.0  # a tiny run takes ~10 s; the shared machine can be very busy


def status_text(app) -> str:
    return str(app.screen.query_one("#run-status", Static).render())


@pytest.mark.slow
async def test_real_runs_one_finishes_one_is_stopped(runs_dir):
    """Two real workers at once (their start-up overlaps, which keeps the suite short):
    a long run that is stopped from the Train screen, and a tiny run that finishes."""
    app = make_app(runs_dir, tiny_config(epochs=5000, eval_step=1, stopping_step=5000), start="train")
    seen_points = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.live is not None, what="the long run")
        long_run, screen = app.live, app.screen
        assert long_run.proc is not None and long_run.run.path.parent == runs_dir

        app.draft.set("epochs", "4")
        app.draft.set("eval_step", "2")
        await pilot.press("s")  # a run is active: the app asks before starting another
        await wait_for(pilot, lambda: app.screen.query("#yes"), what="the confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.live is not long_run, what="the tiny run")
        tiny = app.live

        def progress():
            chart = screen.query_one("#loss-chart")
            seen_points.append(len(chart.series[0].xs) if chart.series else 0)
            return tiny.state.status == "finished"

        await wait_for(pilot, progress, timeout=RUN_TIMEOUT, what="the tiny run to finish")
        await pilot.pause(0.3)
        assert screen.query_one("#loss-chart").series[0].xs == [1, 2, 3, 4]
        recall = screen.query_one("#recall-chart").series
        assert [s.label for s in recall] == ["valid recall@20", "test recall@20"]
        assert [s.xs for s in recall] == [[2, 4], [2, 4]]
        assert all(0.0 <= y <= 1.0 for s in recall for y in s.ys)
        assert "finished" in status_text(app)
        assert "epoch 4/4" in str(screen.query_one("#run-progress", Static).render())
        assert tiny.run.checkpoint_file.is_file()
        assert RunDir(tiny.run.path).summary()["status"] == "finished"
        await pilot.press("k")  # the metric charts switch to the other cut-off
        await pilot.pause()
        assert screen.query_one("#recall-chart").series[0].label == "valid recall@10"
        # the charts were drawn while training went on, not only at the end
        assert any(0 < n < 4 for n in seen_points) or seen_points.count(4) < len(seen_points)

        # stop the long run: clean stop at a batch boundary, best checkpoint kept
        app.open_run(long_run.run.path)
        await wait_for(pilot, lambda: long_run.run.checkpoint_file.is_file() and long_run.state.evals,
                       timeout=RUN_TIMEOUT, what="a first checkpoint of the long run")
        await pilot.press("x")
        await wait_for(pilot, lambda: long_run.state.status == "stopped", timeout=60, what="the stop")
        await wait_for(pilot, lambda: long_run.proc.poll() is not None, timeout=30, what="the worker to exit")
        await pilot.pause(0.2)
        assert "stopped" in status_text(app)
        assert long_run.run.checkpoint_file.is_file()
        summary = RunDir(long_run.run.path).summary()
        assert summary["status"] == "stopped" and summary["best_epoch"] >= 1
        assert long_run.proc.returncode == 0


async def test_worker_failure_is_shown_and_app_stays_usable(runs_dir, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("this is not\na ratings file\n", encoding="utf-8")
    cfg = tiny_config(data_format="csv", data_path=str(bad), dataset="bad")
    app = make_app(runs_dir, cfg, start="train")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.live is not None and app.live.state.status == "failed",
                       timeout=RUN_TIMEOUT, what="the failure")
        await pilot.pause(0.2)
        box = app.screen.query_one("#run-failure", Static)
        assert box.display
        text = str(box.render())
        assert "run failed" in text and "header has no user column" in text
        assert "failed" in status_text(app)
        # Issue 11: a run whose data could not be read trained nothing, so no failed run folder
        # is left behind; the app goes on: the Train screen still shows why.
        failed = app.live
        await wait_for(pilot, lambda: failed.discarded, what="the run folder to be removed")
        assert not failed.run.path.exists()
        await pilot.press("3")
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.screen.table.row_count == 5,
                       what="the runs table")
        assert failed.id not in {r.id for r in app.screen.rows}
        await pilot.press("2")
        await wait_for(pilot, lambda: app.current_mode == "train", what="the train screen")
        assert app.screen.query_one("#run-failure", Static).display


async def test_killed_worker_is_reported_dead(runs_dir):
    """A worker that vanishes without a final event (killed) is shown as dead, with the log."""
    run = RunDir.create(runs_dir, tiny_config())
    run.log_file.write_text("Traceback (most recent call last):\nMemoryError\n", encoding="utf-8")
    proc = sleeper()
    run.event("started", pid=proc.pid, device="cpu", model="DiffRec", dataset={}, parameters=1)
    app = make_app(runs_dir, start="train")
    async with app.run_test(size=SIZE) as pilot:
        live = LiveRun(run, proc)
        app.started.append(live)
        app.open_run(run.path)
        await wait_for(pilot, lambda: live.state.status == "running", what="the run to show")
        os.killpg(proc.pid, signal.SIGKILL)
        await wait_for(pilot, lambda: live.state.status == "dead", timeout=10, what="the dead worker")
        await pilot.pause(0.2)
        text = str(app.screen.query_one("#run-failure", Static).render())
        assert "run dead" in text and "MemoryError" in text


async def test_quit_with_active_run_asks_stop_or_leave(runs_dir):
    run = RunDir.create(runs_dir, tiny_config())
    proc = sleeper()
    run.event("started", pid=proc.pid, device="cpu", model="DiffRec", dataset={}, parameters=1)

    def show(app):  # the run as this app's own, training
        app.started.append(LiveRun(run, proc))
        app.open_run(run.path)

    try:
        app = make_app(runs_dir, start="train")
        async with app.run_test(size=SIZE) as pilot:
            show(app)
            await answer_quit(pilot, "escape")  # cancel: still running, app still there
            await wait_for(pilot, lambda: type(app.screen).__name__ == "TrainScreen", what="the train screen")
            assert proc.poll() is None
            await answer_quit(pilot, "l")  # leave it running
        assert app.return_code == 0 or app.return_code is None
        assert proc.poll() is None  # still training in the background

        app = make_app(runs_dir, start="train")
        async with app.run_test(size=SIZE) as pilot:
            show(app)
            await answer_quit(pilot, "s")  # stop it: SIGINT to the worker's process group
        assert proc.wait(timeout=10) == -signal.SIGINT
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_attach_to_run_started_elsewhere_follows_new_events(runs_dir):
    """The mid-run fixture's pid is alive (this process): attaching shows it running and
    picks up events appended later, as when a headless run goes on."""
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.table.row_count == 5, what="the runs table")
        table = app.screen.table
        table.move_cursor(row=table.get_row_index(MID_RUN), animate=False)
        await pilot.press("a")
        await wait_for(pilot, lambda: app.current_mode == "train", what="the train screen")
        live = app.live
        assert live.state.status == "running" and live.state.epoch == 14
        with open(runs_dir / MID_RUN / "events.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"type": "epoch", "time": 1.0, "epoch": 15, "loss": 480.5, "seconds": 1.8,
                                 "epochs": 40}) + "\n")
        await wait_for(pilot, lambda: live.state.epoch == 15, timeout=5, what="the new epoch")
        await wait_for(pilot, lambda: len(app.screen.query_one("#loss-chart").series[0].xs) == 15, timeout=5,
                       what="the redraw")


async def test_open_finished_run_and_switch_k(runs_dir):
    app = make_app(runs_dir, start="train")
    async with app.run_test(size=SIZE) as pilot:
        assert "No run yet" in status_text(app)
        app.open_run(runs_dir / FINISHED)
        await pilot.pause(0.2)
        screen = app.screen
        assert screen.query_one("#recall-chart").series[0].label == "valid recall@20"
        await pilot.press("k")
        await pilot.pause()
        assert screen.query_one("#recall-chart").series[0].label == "valid recall@50"
        await pilot.press("k")
        await pilot.pause()
        assert screen.query_one("#recall-chart").series[0].label == "valid recall@10"
        best = str(screen.query_one("#run-best", Static).render())
        assert "recall@10" in best and "0.1826" in best  # summary.json's best valid recall@10


async def test_closed_form_run_shows_one_pass_instead_of_epochs(runs_dir):
    """A baseline fitted in one pass (EASE, Pop ...) writes no epoch events."""
    run = RunDir.create(runs_dir, tiny_config(model="EASE"))
    metrics = {"recall@10": 0.40, "ndcg@10": 0.23, "recall@20": 0.54, "ndcg@20": 0.27}
    run.event("started", pid=1, device="cpu", model="EASE", dataset={"n_users": 300, "n_items": 200},
              parameters=0)
    run.event("eval", epoch=1, valid=metrics, test=metrics, seconds=0.2)
    run.event("finished", status="finished", best_epoch=1, epochs_run=1, valid=metrics, test=metrics,
              reason="closed-form model fitted")
    app = make_app(runs_dir, start="train")
    async with app.run_test(size=SIZE) as pilot:
        app.open_run(run.path)
        await pilot.pause(0.2)
        screen = app.screen
        assert "fitted in one pass" in str(screen.query_one("#run-progress", Static).render())
        assert screen.query_one("#loss-chart").empty == "none (fitted in one pass)"
        assert [s.xs for s in screen.query_one("#recall-chart").series] == [[1], [1]]


async def test_charts_and_log_follow_valid_metric_and_topk(runs_dir):
    """RecBole's settings (topk [10], valid MRR@10): the first chart is MRR@10, the second
    NDCG@10, and the event log's eval lines show mrr@10 (never empty)."""
    cfg = tiny_config(topk=[10], metrics=["Recall", "MRR", "NDCG", "Hit", "Precision"], valid_metric="MRR@10")
    run = RunDir.create(runs_dir, cfg)
    run.event("started", pid=1, device="cpu", model="DiffRec", parameters=10,
              dataset={"n_users": 300, "n_items": 200, "n_train": 3258, "n_valid": 445, "n_test": 445,
                       "split": "recbole 0.8/0.1/0.1 RO", "unseen_targets": 2, "unseen_dropped": 0})
    for epoch, mrr in ((1, 0.31), (2, 0.35)):
        m = {"recall@10": mrr / 2, "mrr@10": mrr, "ndcg@10": mrr / 1.5, "hit@10": 0.6, "precision@10": 0.1}
        run.event("epoch", epoch=epoch, loss=1.0, seconds=0.1, epochs=2)
        run.event("eval", epoch=epoch, valid=m, test=m, seconds=0.1)
    app = make_app(runs_dir, start="train")
    async with app.run_test(size=SIZE) as pilot:
        app.open_run(run.path)
        await pilot.pause(0.2)
        screen = app.screen
        first, second = screen.query_one("#recall-chart"), screen.query_one("#ndcg-chart")
        assert [s.label for s in first.series] == ["valid mrr@10", "test mrr@10"] and first.series[0].ys == [0.31, 0.35]
        assert first.title_text.startswith("MRR@10") and second.title_text.startswith("NDCG@10")
        log = list(app.live.state.log)
        assert "train/valid/test 3258/445/445 (recbole" in log[0]
        assert any(line.startswith("eval epoch 2: valid mrr@10 0.3500 ndcg@10") for line in log)
        assert "mrr@10" in str(screen.query_one("#run-best", Static).render())
