"""The sweep coordinator: runs a sweep directory's trials as worker processes.

`python -m engine.processes.sweep_runner SWEEP_DIR [--workers N]` is the process the app
launches for a sweep (its own session, stdin closed, output in the sweep's log); `--tune` and
`--resume SWEEP_DIR` run the same Runner in the foreground.
"""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import sys

from engine.errors import InputError, one_line
from engine.processes.backends import BACKENDS, LocalBackend, SpawnBackend, make_backend, slots
from engine.processes.sweep_search import SweepSearch
from engine.processes.supervisor import STOP_GRACE_SECONDS, Child, Signals
from engine.errors import ExitCode
from engine.records.runs import RunDir, discard_unstarted, pid_alive
from engine.records.sweeps import (DONE, ENDED, SweepDir, SweepInfo, TrialInfo, fill_from_summary,
                                   load_sweep)
from engine.search.space import Space, same_config, trial_config


@dataclass
class _Slot:
    trial: TrialInfo
    run: RunDir
    proc: Child
    started: float
    prior_seconds: float = 0.0
    resumed: bool = False
    pruned: tuple[int, float] | None = None  # (epoch, value) where the pruner stopped it


class Runner:
    """Runs a sweep's unfinished trials, `workers` at a time, on a `backend`
    (engine.processes.backends: long-lived local workers by default; `spawn=` gives one
    interpreter per trial through that function, as `spawn(run_dir, resume=, env=)`).

    A failed trial is recorded and the sweep goes on. When `should_stop()` turns true no
    trial starts, running workers get SIGINT (killed after `stop_grace` seconds) and are
    recorded as stopped; running the Runner again (resume) skips finished and skipped
    trials, continues stopped ones from their resume.pt, and re-runs the rest.

    Trials that differ only in lines that cannot change a run (tuning.inert: w_min while
    time-aware is off, a key of another model) would repeat one seeded run: one of them
    runs, the others take its result (recorded with `same_as`) and never start a worker.

    Search and pruning (engine.processes.sweep_search): a bayes sweep proposes its next trial
    when a slot is free and no planned one can start; a pruner reads each running trial's
    evaluations and a trial it rejects gets SIGINT and is recorded as `pruned`."""

    def __init__(self, path: str | Path, workers: int, threads: int | None = None,
                 spawn: Callable | None = None, poll_seconds: float = 0.2,
                 stop_grace: float = STOP_GRACE_SECONDS, backend=None):
        self.sd = SweepDir(path)
        self.workers, self.threads = max(1, workers), threads
        if backend is None:  # `spawn`: one interpreter per trial, through that function (tests' stand-ins)
            backend = SpawnBackend(spawn) if spawn is not None else LocalBackend()
        if getattr(backend, "log_file", False) is None:  # long-lived workers log to the sweep directory
            backend.log_file = self.sd.workers_log
        self.backend, self.poll_seconds, self.stop_grace = backend, poll_seconds, stop_grace
        self.running: dict[int, _Slot] = {}

    def run(self, should_stop: Callable[[], bool] = lambda: False,
            on_update: Callable[[TrialInfo], None] = lambda t: None,
            on_tick: Callable[[], None] = lambda: None) -> SweepInfo:
        info = load_sweep(self.sd.path)
        self.base, self.metric = info.meta["base"], info.metric
        self.trials = {t.index: t for t in info.trials}
        self.space = Space.from_list(info.meta.get("space", []))
        self._regroup()
        self.search = SweepSearch(self.sd, info)
        self.sd.write_state(status="running", pid=os.getpid(), workers=self.workers, threads=self.threads)
        self._settle(info)
        self._adopt_orphans(info)
        todo = [t for t in info.trials if t.status not in DONE and t.index not in self.running]
        stop_at: float | None = None
        try:
            while self.running or ((todo or self.search.more(len(self.trials))) and stop_at is None):
                if stop_at is None and should_stop():
                    stop_at = time.monotonic()
                    for slot in self.running.values():
                        slot.proc.stop(signal.SIGINT)
                while stop_at is None and len(self.running) < self.workers:
                    t = self._next(todo) or (None if todo else self._propose(todo, on_update))
                    if t is None:
                        break
                    source = self._finished_twin(t)
                    on_update(self._reuse(t, source) if source else self._start(t))
                self._prune(stop_at is None)
                for index in [i for i, s in self.running.items() if s.proc.poll() is not None]:
                    on_update(self._finish(self.running.pop(index)))
                for slot in self.running.values():
                    slot.proc.enforce(self.stop_grace)  # kill a worker that did not reach a batch boundary in time
                on_tick()
                if self.running:
                    time.sleep(self.poll_seconds)
        finally:
            info = load_sweep(self.sd.path)
            status = "stopped" if stop_at is not None or any(t.status not in ENDED for t in info.trials) \
                or len(info.trials) < info.size else "finished"
            self.sd.write_state(status=status, pid=os.getpid(), workers=self.workers, threads=self.threads)
            self.sd.write_csv()
            self.sd.write_best(info)
            self.backend.close()
        return load_sweep(self.sd.path)

    def _regroup(self) -> None:
        """Which trials share a config (the plan grows as a bayes search proposes)."""
        plan = [{"trial": i, "params": t.params} for i, t in sorted(self.trials.items())]
        self.group, self.same_why = same_config(self.space, self.base, plan)
        self.twins: dict[int, list[int]] = {}
        for index, first in self.group.items():
            self.twins.setdefault(first, []).append(index)

    def _propose(self, todo: list[TrialInfo], on_update) -> TrialInfo | None:
        """bayes: the search's next trial for a free slot. One whose twin is running waits
        in `todo` for that result (no new proposal until it is taken)."""
        while self.search.more(len(self.trials)):
            t = self.search.propose(max(self.trials, default=0) + 1)
            self.trials[t.index] = t
            self._regroup()
            if t.status == "skipped":
                on_update(t)
                continue
            if any(m in self.running for m in self._members(t)):
                todo.append(t)
                return None
            return t
        return None

    def _prune(self, allowed: bool) -> None:
        """Running trials' new evaluations go to the pruner; one it rejects is stopped."""
        for slot in self.running.values():
            hit = self.search.check(slot.trial)
            if hit and allowed and slot.pruned is None:
                slot.pruned = hit
                slot.proc.stop(signal.SIGINT)

    def _members(self, t: TrialInfo) -> list[int]:
        """The other trials with t's config."""
        return [i for i in self.twins.get(self.group.get(t.index, t.index), []) if i != t.index]

    def _next(self, todo: list[TrialInfo]) -> TrialInfo | None:
        """The first trial to do whose twin is not running (it may give this one's result)."""
        for i, t in enumerate(todo):
            if not any(m in self.running for m in self._members(t)):
                return todo.pop(i)
        return None

    def _finished_twin(self, t: TrialInfo) -> TrialInfo | None:
        return next((self.trials[m] for m in self._members(t)
                     if self.trials[m].status in ("finished", "pruned") and self.trials[m].same_as is None), None)

    def _reuse(self, t: TrialInfo, source: TrialInfo) -> TrialInfo:
        t.status, t.run, t.same_as, t.pruned = source.status, source.run, source.index, source.pruned
        t.value, t.valid, t.test = source.value, dict(source.valid), dict(source.test)
        t.best_epoch, t.epochs, t.seconds = source.best_epoch, source.epochs, 0.0
        t.reason = f"same config as trial {source.index}" + (f": {self.same_why}" if self.same_why else "")
        self._record_end(t)
        self.search.ended(t)
        self.sd.write_csv()
        return t

    def _settle(self, info: SweepInfo) -> None:
        """Trials whose worker ended after the previous coordinator died get their record now."""
        last = {rec["trial"]: rec.get("status") for rec in self.sd.records()}
        for t in info.trials:
            if last.get(t.index) == "running" and t.status in ENDED:
                self._record_end(t)

    def _adopt_orphans(self, info: SweepInfo) -> None:
        """Workers still alive from a coordinator that died (kill -9) are watched, not duplicated."""
        for t in info.trials:
            if t.status == "running" and t.run is not None:
                run = RunDir(t.run)
                rec = run.worker() or {}
                pid = rec.get("pid") or next((e.get("pid") for e in run.events() if e["type"] == "started"), None)
                if (run.worker_alive() if rec else pid_alive(pid)):
                    self.running[t.index] = _Slot(t, run, Child(pid=pid), time.monotonic())
                    self.search.started(t, run)

    def _start(self, t: TrialInfo) -> TrialInfo:
        resume = t.status == "stopped" and t.run is not None and RunDir(t.run).resume_file.is_file()
        prior = (t.seconds or 0.0) if resume else 0.0
        if resume:
            run = RunDir(t.run)
            threads = run.config().get("threads") or self.threads
        else:
            cfg = trial_config(self.base, t.params, self.threads)
            run = RunDir.create(self.sd.path, cfg)
            threads = cfg["threads"]
        proc = self.backend.start(run.path, resume=resume, threads=threads)
        self.running[t.index] = _Slot(t, run, proc, time.monotonic(), prior, resume)
        self.search.started(t, run)
        self.sd.record({"trial": t.index, "status": "running", "params": t.params, "run": run.path.name,
                        "resumed": resume})
        t.status, t.run, t.reason = "running", run.path, ""
        return t

    def _finish(self, slot: _Slot) -> TrialInfo:
        t, run = slot.trial, slot.run
        self.search.check(t)  # evaluations written since the last tick belong to its curve
        summary = run.summary() or {}
        status = summary.get("status")
        if status in ("finished", "stopped", "failed"):
            fill_from_summary(t, summary, self.metric)
            t.status = status
            if status == "failed" and not slot.resumed and discard_unstarted(run):
                t.run = None  # it failed on its input before training: no folder is kept
        else:
            t.status, t.valid, t.test, t.value, t.best_epoch = "failed", {}, {}, None, None
            run.record_exit(slot.proc.poll())
            t.reason = f"without a result: {run.gone_reason(slot.proc.poll())}"
        if slot.pruned and t.status == "stopped":
            self._mark_pruned(t, run, *slot.pruned)
        t.seconds = round(slot.prior_seconds + time.monotonic() - slot.started, 2)
        self._record_end(t)
        self.search.ended(t)
        self.sd.write_csv()
        return t

    def _mark_pruned(self, t: TrialInfo, run: RunDir, epoch: int, value: float) -> None:
        reason = self.search.pruned_reason(epoch, value)
        if run.mark_pruned(epoch, value, self.search.prune, reason):
            t.status, t.reason = "pruned", reason
            t.pruned = {"epoch": epoch, "value": value, "by": self.search.prune}

    def _record_end(self, t: TrialInfo) -> None:
        self.sd.record({"trial": t.index, "status": t.status, "params": t.params,
                        "run": t.run.name if t.run else None, "metric": self.metric, "value": t.value,
                        "valid": t.valid, "test": t.test, "best_epoch": t.best_epoch, "epochs": t.epochs,
                        "seconds": t.seconds, "reason": t.reason, "curve": self.search.curve(t.index),
                        **({"same_as": t.same_as} if t.same_as is not None else {}),
                        **({"pruned": t.pruned} if t.pruned else {})})


def run_supervised(path: str | Path, workers: int, threads: int | None,
                   on_update: Callable[[TrialInfo], None] = lambda t: None,
                   on_tick: Callable[[], None] = lambda: None, backend=None) -> tuple[SweepInfo, Signals]:
    """Run the sweep's trials on `backend` (default: long-lived local workers). SIGINT,
    SIGTERM or SIGHUP stop it like Ctrl-C: no new trial, running trials stop at a batch
    boundary, a second signal kills them at once."""
    runner = Runner(path, workers, threads, backend=backend)

    def on_signal(signum):
        if len(signals.received) > 1:
            runner.stop_grace = 0.0  # a second signal: do not wait for the workers

    signals = Signals(on_signal)
    try:
        with signals:
            info = runner.run(should_stop=lambda: bool(signals.received), on_update=on_update, on_tick=on_tick)
    finally:
        runner.backend.close()  # also when the run never began (Ray: ray.shutdown on every path)
    return info, signals


def exit_code(info: SweepInfo, signals: Signals) -> int:
    if signals.received:
        return signals.exit_status
    return ExitCode.OK if info.best else ExitCode.FAILED


USAGE = ("usage: python -m engine.processes.sweep_runner SWEEP_DIR [--workers N] [--backend local|process|ray] "
         "[--address ADDR] [--cpus-per-trial N] [--gpus-per-trial N]")


def parse_args(argv: list[str]):
    """The coordinator's arguments, or None when they are wrong (the caller prints USAGE)."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message):
            raise ValueError(message)

    p = Parser(add_help=False)
    p.add_argument("sweep_dir")
    p.add_argument("--workers", type=int)
    p.add_argument("--backend", choices=BACKENDS)
    p.add_argument("--address")
    p.add_argument("--cpus-per-trial", type=float)
    p.add_argument("--gpus-per-trial", type=float)
    try:
        args = p.parse_args(argv)
    except ValueError:
        return None
    return args if Path(args.sweep_dir).is_absolute() else None


def main(argv: list[str]) -> int:
    """The coordinator the app launches: one plain line per trial that starts or ends."""
    args = parse_args(argv)
    if args is None:
        print(USAGE + " (SWEEP_DIR an absolute path)", file=sys.stderr)
        return ExitCode.INPUT
    backend = None
    try:
        info = load_sweep(args.sweep_dir)
        if info.status == "running":
            raise InputError(f"sweep {info.path} is still running (pid {info.state.get('pid')})")
        todo = info.todo
        backend = make_backend(args.backend, address=args.address, cpus_per_trial=args.cpus_per_trial,
                               gpus_per_trial=args.gpus_per_trial)
        workers, threads = slots(backend, info.meta["base"], args.workers, max(1, todo))
    except (InputError, ValueError) as exc:
        if backend is not None:
            backend.close()
        print(one_line(str(exc)), file=sys.stderr)
        return ExitCode.INPUT
    print(f"sweep {info.path}: {todo} of {info.size} trials to run, {workers} workers", flush=True)
    n = info.size
    info, signals = run_supervised(info.path, workers, threads, backend=backend, on_update=lambda t: print(
        f"trial {t.index}/{n} {t.status}" + (f": {t.reason}" if t.reason else ""), flush=True))
    return exit_code(info, signals)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

