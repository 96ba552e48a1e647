"""Issue 11 in the app: started from a folder that is not the checkout, with a relative
runs directory, a relative data_path (RecBole's layout) and a relative base config, a run
trains, resumes from the Runs screen, and a 2-trial sweep finishes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from textual.widgets import Input, TextArea

from engine.config import files as config_files
from engine.records.runs import RunDir
from tui_helpers import SIZE, wait_for

RUN_TIMEOUT = 120
TINY = {"dims_dnn": [32], "embedding_size": 8, "steps": 3, "epochs": 2, "eval_step": 1, "stopping_step": 5,
        "train_batch_size": 20, "topk": [10, 20], "device": "cpu", "threads": 1, "seed": 5,
        "data_path": "dataset/", "dataset": "toy", "gpu_id": "0", "log_wandb": False}  # log_wandb: noted


def user_folder(root: Path) -> Path:
    cwd = root / "somewhere"
    (cwd / "dataset" / "toy").mkdir(parents=True)
    rng = np.random.default_rng(2)
    lines = ["user_id:token\titem_id:token\ttimestamp:float"]
    for u in range(40):
        lines += [f"u{u}\tm{i}\t{k}" for k, i in enumerate(rng.choice(25, 10, replace=False))]
    (cwd / "dataset" / "toy" / "toy.inter").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (cwd / "my.yaml").write_text(yaml.safe_dump(TINY), encoding="utf-8")
    return cwd


@pytest.mark.slow
async def test_app_runs_resumes_and_sweeps_from_another_folder(tmp_path, monkeypatch):
    from diffrec_tui.app import DiffRecApp

    cwd = user_folder(tmp_path)
    monkeypatch.chdir(cwd)
    cfg, note = config_files.load_with_note("my.yaml")  # what the CLI hands the app
    app = DiffRecApp(config=cfg, config_path=Path("my.yaml"), runs_dir="runs", note=note, start="train")
    assert app.runs_dir == cwd / "runs"
    async with app.run_test(size=SIZE) as pilot:
        app.draft.set("data_path", "dataset/")  # typed in the form: relative to this folder
        app.draft.set("epochs", "100000")  # long enough to stop it, then resume it
        app.draft.set("stopping_step", "100000")
        await pilot.press("s")
        await wait_for(pilot, lambda: app.live is not None and app.live.run.resume_file.is_file(),
                       timeout=RUN_TIMEOUT, what="the run's first evaluation")
        first = app.live
        run = first.run
        assert run.path.parent == cwd / "runs"
        assert "log_wandb" in first.state.log[0]  # the note of ignored RecBole keys opens the log
        assert json.loads(run.tokens_file.read_text())["users"][:2] == ["u0", "u1"]
        await pilot.press("x")
        await wait_for(pilot, lambda: first.state.status == "stopped" and first.proc.poll() is not None,
                       timeout=60, what="the stop")

        await pilot.press("3")
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.screen.table.row_count == 1,
                       what="the runs table")
        await pilot.press("u")  # resume the highlighted (stopped) run
        await wait_for(pilot, lambda: app.live is not first and app.live.state.epochs,
                       timeout=RUN_TIMEOUT, what="the resumed run to train")
        assert app.live.run.path == run.path and app.current_mode == "train"
        await pilot.press("x")
        await wait_for(pilot, lambda: app.live.state.status == "stopped" and app.live.proc.poll() is not None,
                       timeout=60, what="the second stop")
        started = [e for e in RunDir(run.path).events() if e["type"] == "started"]
        assert started[0]["resumed_from_epoch"] is None and started[1]["resumed_from_epoch"] >= 1

        await pilot.press("5")
        await wait_for(pilot, lambda: app.current_mode == "sweep" and app.screen.is_mounted, what="the sweep screen")
        screen = app.screen
        screen.query_one("#sweep-space", TextArea).load_text("learning_rate choice [1e-3,5e-3]\n")
        screen.query_one("#sweep-base", Input).value = "my.yaml"  # relative to this folder
        screen.query_one("#sweep-workers", Input).value = "2"
        await pilot.pause()
        try:
            await pilot.press("ctrl+l")
            await wait_for(pilot, lambda: screen.current is not None, what="the sweep directory")
            assert screen.current.parent == cwd / "runs"
            await wait_for(pilot, lambda: screen.info is not None and
                           [t.status for t in screen.info.trials] == ["finished", "finished"],
                           timeout=RUN_TIMEOUT, what="both trials")
        finally:
            for proc in screen.procs.values():
                if proc.poll() is None:
                    proc.kill()
        assert all(t.run.parent == screen.current for t in screen.info.trials)
