"""Helpers for the app tests (a separate module: conftest files are not imported by name)."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from engine.config import schema as config_mod
from engine.config import files as config_files

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIXTURE_RUNS = HERE / "fixtures" / "runs"
MID_RUN = "20250302-090000-DiffRec-synthetic"
FINISHED = "20250301-100000-DiffRec-synthetic"
FINISHED_2 = "20250301-113000-DiffRec-synthetic"
FAILED = "20250301-140000-DiffRec-synthetic"
SIZE = (140, 42)  # the main snapshot size
SMALL = (80, 24)  # the smallest terminal every screen must be usable in
LARGE = (200, 60)  # a big terminal: charts and lists must grow into the room


def default_config() -> dict:
    return config_files.load(REPO / "configs" / "default.yaml")


def tiny_config(**over) -> dict:
    """A run that trains in a few seconds: 300 users x 200 items, 4 epochs."""
    cfg = default_config()
    cfg.update(synthetic_users=300, synthetic_items=200, synthetic_interactions=20, synthetic_clusters=5,
               dims_dnn=[32], epochs=4, eval_step=2, steps=5, train_batch_size=100, topk=[10, 20],
               metrics=["Recall", "NDCG"], threads=1)
    cfg.update(over)
    return config_mod.resolve(cfg)


def make_app(runs_dir: Path, cfg: dict | None = None, path: str | Path | None = "configs/default.yaml", **kw):
    from diffrec_tui.app import DiffRecApp
    return DiffRecApp(config=cfg or default_config(), config_path=path, runs_dir=runs_dir, **kw)


async def wait_for(pilot, cond, timeout: float = 20.0, what: str = "condition") -> None:
    """Let the app run until cond() is true (fails after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.05)


async def config_ready(pilot) -> None:
    await wait_for(pilot, lambda: pilot.app.screen_for("config") is not None
                   and pilot.app.screen_for("config").ready, what="the config form")


# A stand-in for a worker or a sweep coordinator: sleeps, and dies of SIGINT even when the
# test runner was started with SIGINT ignored (a background job in a script), which a child
# would otherwise inherit.
SLEEPER = "import signal, time; signal.signal(signal.SIGINT, signal.default_int_handler); time.sleep(60)"


def sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SLEEPER], start_new_session=True)


async def answer_quit(pilot, key: str) -> None:
    """ctrl+q, wait for the stop-or-leave question, answer it with `key` (s, l or escape).
    An answer that quits reaches the app in a later message: wait for it, so a test does
    not leave run_test before the app acted on it."""
    app = pilot.app
    await pilot.press("ctrl+q")
    await wait_for(pilot, lambda: type(app.screen).__name__ == "QuitWithRun", what="the quit question")
    await pilot.press(key)
    if key != "escape":
        await wait_for(pilot, lambda: app.return_code is not None, what="the quit")
