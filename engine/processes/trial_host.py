"""TrialHost: the one code path that trains a run directory, in whatever process hosts it
(the one-run worker, a sweep's long-lived local worker, a Ray actor).

A host keeps the datasets it has loaded, keyed by the config keys that define the data, so
the trials of a sweep that run in one process pay the data load (and torch's import) once.
No signal handling here: the caller owns the process and says when to stop (`should_stop`).
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

from engine.errors import ExitCode, classify
from engine.records.runs import RunDir

_KEEP = 2  # datasets kept per host: a sweep has one; a seed group or --compare at most a few
PRESPLIT = ("diffrec_npy", "synthetic")  # formats whose splits do not draw on `seed`


def data_key(cfg: dict) -> tuple:
    """What the loaded Dataset depends on: the Data group of the schema, plus the seed where
    it draws the splits (atomic and CSV data), so a seed group on split files loads once."""
    from engine.config import schema
    names = sorted(f.name for f in schema.FIELDS if f.group == "Data")
    if cfg.get("data_format") not in PRESPLIT:
        names.append("seed")
    return tuple((n, repr(cfg.get(n))) for n in names)


class TrialHost:
    def __init__(self):
        self.datasets: dict[tuple, object] = {}
        self.loads = 0  # data loads done by this host: the tests and the benchmark read it
        self.trials = 0

    def offer(self, cfg: dict, ds) -> None:
        """Take a dataset loaded elsewhere (Ray's object store) for configs with cfg's data,
        unless one is kept already. Its arrays are copied once: the store's are read-only."""
        key = data_key(cfg)
        if key not in self.datasets:
            import copy
            self._keep(key, copy.deepcopy(ds))

    def dataset(self, cfg: dict):
        """(the Dataset for cfg, whether it came from the cache)."""
        key = data_key(cfg)
        if key in self.datasets:
            return self.datasets[key], True
        from engine.data import loaders
        ds = loaders.load(cfg)
        self.loads += 1
        self._keep(key, ds)
        return ds, False

    def _keep(self, key: tuple, ds) -> None:
        self.datasets.pop(key, None)
        self.datasets[key] = ds
        while len(self.datasets) > _KEEP:
            self.datasets.pop(next(iter(self.datasets)))

    def run(self, run_dir: str | Path, resume: bool = False,
            should_stop: Callable[[], bool] = lambda: False) -> int:
        """Train the run directory: events appended, summary written, failures recorded.
        Exit status: 0 finished or stopped, 1 training failed or crashed (traceback on
        stderr, i.e. worker.log), 2 bad input."""
        run = RunDir(run_dir)
        self.trials += 1
        try:
            from engine.config import schema as config
            from engine.training import budget
            cfg = config.resolve(run.config())
            t0 = time.perf_counter()
            ds, cached = self.dataset(cfg)
            load = {"cached": cached, "seconds": round(time.perf_counter() - t0, 3), "loads": self.loads,
                    "trial": self.trials, "host_pid": os.getpid()}
            budget.check(cfg, ds.n_users, ds.n_items)
            if not resume:
                from engine.records import tokens
                tokens.write(run.tokens_file, ds)
            from engine.training.trainer import TrainingFailed, fit_into
            try:
                fit_into(run, cfg, ds, should_stop, resume=resume, started_extra={"data_load": load})
                return ExitCode.OK
            except TrainingFailed as exc:
                return record_failure(run, str(exc), "training", ExitCode.FAILED)
        except Exception as exc:  # the one boundary: input -> its message, a crash -> traceback in worker.log
            message, code, kind = classify(exc)
            if kind == "crash":
                traceback.print_exc()
            return record_failure(run, message, kind, code)

    def run_logged(self, run_dir: str | Path, resume: bool, should_stop: Callable[[], bool]) -> int:
        """`run` in a process that trains many runs (a long-lived worker, a Ray actor): the
        trial's output goes to its own worker.log, and its worker.json records the exit, since
        this process lives on for other runs."""
        run = RunDir(run_dir)
        with output_to(run.log_file):
            code = int(self.run(run.path, resume, should_stop))
        run.record_exit(code)
        return code


def record_failure(run: RunDir, reason: str, kind: str, code: int) -> int:
    try:
        ev = run.event("failed", reason=reason, kind=kind)
        prev = run.summary() or {}
        run.write_summary({**{k: prev.get(k) for k in ("best_epoch", "epochs_run", "valid", "test")},
                           "status": "failed", "reason": reason, "kind": kind, "time": ev["time"]})
    except OSError as exc:  # the run directory itself is gone or read-only: say so in worker.log
        print(f"worker: cannot record the failure ({reason}): {exc}", file=sys.stderr)
    return code


@contextlib.contextmanager
def output_to(path: Path | None):
    """File descriptors 1 and 2 (prints, tracebacks, native libraries' messages) go to
    `path` (appended) while inside, and back afterwards: one process, one log per trial."""
    if path is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError:
        os.close(saved[0])
        os.close(saved[1])
        yield  # the run directory is not writable: the failure is recorded (or said) elsewhere
        return
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
