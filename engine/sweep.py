"""A sweep directory, its reader, and the scheduler that runs its trials (no torch here).

runs/sweep-<YYYYmmdd-HHMMSS>-<name>/
  sweep.yaml     the search: hyper.test text, space, base config, strategy, seed, plan
  state.json     the coordinator: status (running|finished|stopped), pid, workers, threads
  results.jsonl  append-only: one record when a trial starts (status running, its run
                 directory) and one when it ends (finished|stopped|failed|skipped, metrics);
                 a trial's latest record wins
  results.csv    one row per ended trial, rewritten (atomically) after each one ends
  best.yaml      the full config of the best finished trial, ready for `--run`
  <run dirs>     one ordinary run directory per trial (engine.runs), so
                 `engine.runs.list_runs(sweep_dir)` lists the trials

The best trial is chosen by the validation metric only; test metrics are reported, never
used to choose. `load_sweep(path)` is all a viewer needs.
"""
from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

import yaml

from engine.config import schema as config_mod
from engine.config import fields as config_fields
from engine.config import files as config_files
from engine.errors import os_errors
from engine.runs import RUNS_FIX, RunDir, _slug, append_line, discard_unstarted, load_run, make_folder, pid_alive
from engine.supervisor import Child
from engine.tuning import Space, Trial, format_params, same_config, trial_config

SWEEP_FILE, STATE_FILE = "sweep.yaml", "state.json"
RESULTS_JSONL, RESULTS_CSV, BEST_FILE = "results.jsonl", "results.csv", "best.yaml"
ENDED = ("finished", "stopped", "failed", "skipped")
DONE = ("finished", "skipped")  # a resumed sweep does not run these again
STOP_GRACE_SECONDS = 30.0


def metric_key(valid_metric: str) -> str:
    m = config_fields.parse_metric(valid_metric)
    return f"{m[0]}@{m[1]}" if m else "recall@20"


def metric_keys(cfg: dict) -> list[str]:
    """Every metric a run of `cfg` reports, in the trainer's order (by K, then metric)."""
    return [f"{m.lower()}@{k}" for k in cfg.get("topk", []) for m in cfg.get("metrics", [])]


# ---------------------------------------------------------------- reading

@dataclass
class TrialInfo:
    index: int
    params: dict
    status: str = "pending"  # pending | running | finished | stopped | failed | skipped | dead
    run: Path | None = None
    value: float | None = None  # the validation metric of the best epoch
    valid: dict = field(default_factory=dict)
    test: dict = field(default_factory=dict)
    best_epoch: int | None = None
    epochs: int | None = None
    seconds: float | None = None
    reason: str = ""
    same_as: int | None = None  # the result is this trial's: the two configs are the same


@dataclass
class SweepInfo:
    path: Path
    meta: dict
    trials: list[TrialInfo]
    state: dict

    @property
    def name(self) -> str:
        return self.meta.get("name", self.path.name)

    @property
    def metric(self) -> str:
        """The metric key that chooses the best trial, e.g. 'recall@20'."""
        return metric_key(self.meta.get("base", {}).get("valid_metric", "Recall@20"))

    @property
    def status(self) -> str:
        """running (a live coordinator), finished (every trial ended, none stopped), stopped
        (some trials left: resume it), or pending (created, never run)."""
        if self.state.get("status") == "running" and pid_alive(self.state.get("pid")):
            return "running"
        if all(t.status in ("finished", "failed", "skipped") for t in self.trials):
            return "finished"
        return "stopped" if self.state else "pending"

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.trials:
            out[t.status] = out.get(t.status, 0) + 1
        return out

    @property
    def bigger(self) -> bool:
        """Is a bigger validation metric better (RecBole's valid_metric_bigger)?"""
        return bool(self.meta.get("base", {}).get("valid_metric_bigger", True))

    @property
    def best(self) -> TrialInfo | None:
        return best_trial(self.trials, self.bigger)


def best_trial(trials: list[TrialInfo], bigger: bool = True) -> TrialInfo | None:
    """The finished trial with the best validation metric (the highest, or the lowest when
    not `bigger`; the first one on a tie)."""
    ok = [t for t in trials if t.status == "finished" and t.value is not None and math.isfinite(t.value)]
    sign = 1.0 if bigger else -1.0
    return max(ok, key=lambda t: (sign * t.value, -t.index)) if ok else None


def load_sweep(path: str | Path) -> SweepInfo:
    """Read a sweep directory: its description, every planned trial with its latest state
    (a trial whose coordinator died is read from its run directory), the coordinator state."""
    sd = SweepDir(path)
    meta = sd.meta()
    trials = {t["trial"]: TrialInfo(t["trial"], dict(t["params"])) for t in meta.get("plan", [])}
    for rec in sd.records():
        t = trials.get(rec.get("trial"))
        if t is not None:
            _apply(t, rec, sd.path)
    metric = metric_key(meta.get("base", {}).get("valid_metric", "Recall@20"))
    state = sd.state()
    live = state.get("status") == "running" and pid_alive(state.get("pid"))
    for t in trials.values():
        if t.status == "running" and t.run is not None:
            _from_run(t, metric, coordinator_alive=live)
    return SweepInfo(sd.path, meta, [trials[i] for i in sorted(trials)], state)


def _apply(t: TrialInfo, rec: dict, root: Path) -> None:
    t.status = rec.get("status", t.status)
    if "run" in rec:  # None: the trial's folder was removed (it failed on its input before training)
        t.run = root / rec["run"] if rec["run"] else None
    for name in ("value", "best_epoch", "epochs", "seconds"):
        setattr(t, name, rec.get(name))
    t.valid, t.test = rec.get("valid") or {}, rec.get("test") or {}
    t.reason = rec.get("reason") or ""
    t.same_as = rec.get("same_as")


def _from_run(t: TrialInfo, metric: str, coordinator_alive: bool) -> None:
    """A trial recorded as running: its run directory says whether it still is."""
    info = load_run(t.run)
    status = info.status
    if status == "running" and not info.events and not coordinator_alive and RunDir(t.run).worker() is None:
        status = "dead"  # its worker never started and nobody will start it now
    if status in ("finished", "stopped", "failed"):
        _fill_from_summary(t, info.summary or {}, metric)
        t.status = status
    else:
        t.status = status  # running or dead
        t.epochs = info.epochs
        valid, test = info.best
        t.valid, t.test, t.value = valid, test, valid.get(metric)
        if status == "dead":
            t.reason = info.reason


def _fill_from_summary(t: TrialInfo, summary: dict, metric: str) -> None:
    t.valid, t.test = summary.get("valid") or {}, summary.get("test") or {}
    t.value = t.valid.get(metric)
    t.best_epoch, t.epochs = summary.get("best_epoch"), summary.get("epochs_run")
    t.reason = summary.get("reason") or ""


# ---------------------------------------------------------------- writing

class SweepDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    sweep_file = property(lambda self: self.path / SWEEP_FILE)
    state_file = property(lambda self: self.path / STATE_FILE)
    jsonl_file = property(lambda self: self.path / RESULTS_JSONL)
    csv_file = property(lambda self: self.path / RESULTS_CSV)
    best_file = property(lambda self: self.path / BEST_FILE)

    @classmethod
    def create(cls, root: str | Path, name: str, space: Space, base: dict, strategy: str,
               trials: list[Trial], seed: int, hyper_text: str = "", hyper_file: str | None = None,
               now: datetime | None = None) -> "SweepDir":
        sd = cls(make_folder(root, f"sweep-{(now or datetime.now()).strftime('%Y%m%d-%H%M%S')}-{_slug(name)}"))
        meta = {"name": name, "created": datetime.now().isoformat(timespec="seconds"),
                "hyper_file": hyper_file, "hyper_text": hyper_text, "strategy": strategy,
                "trials": len(trials), "seed": seed, "valid_metric": base["valid_metric"],
                "space": space.to_list(), "base": base,
                "plan": [{"trial": t.index, "params": t.params} for t in trials]}
        with os_errors("runs dir", sd.path, RUNS_FIX):
            _atomic_write(sd.sweep_file, yaml.dump(meta, Dumper=_Dumper, sort_keys=False, default_flow_style=None))
            for t in trials:  # known up front: record them now, so every reader sees why
                if t.skip:
                    sd.record({"trial": t.index, "status": "skipped", "params": t.params, "reason": t.skip})
            sd.write_csv()
        return sd

    def meta(self) -> dict:
        """sweep.yaml, parsed once per version of the file (viewers poll load_sweep)."""
        try:
            st = self.sweep_file.stat()
            key = (str(self.sweep_file.resolve()), st.st_mtime_ns, st.st_size)
            if key not in _META_CACHE:
                _META_CACHE.clear()
                _META_CACHE[key] = yaml.load(self.sweep_file.read_text(encoding="utf-8"), Loader=_Loader)
            data = _META_CACHE[key]
        except FileNotFoundError:
            raise config_mod.ConfigError(f"sweep: {self.path} is not a sweep directory (no {SWEEP_FILE})") from None
        except (OSError, yaml.YAMLError) as exc:
            raise config_mod.ConfigError(f"sweep: {self.sweep_file} cannot be read ({exc.__class__.__name__})") from None
        if not isinstance(data, dict) or "plan" not in data or "base" not in data:
            raise config_mod.ConfigError(f"sweep: {self.sweep_file} is not a sweep description (no plan/base)")
        return copy.deepcopy(data)

    def space(self) -> Space:
        return Space.from_list(self.meta().get("space", []))

    def record(self, rec: dict) -> dict:
        rec = {**rec, "time": round(time.time(), 3)}
        append_line(self.jsonl_file, json.dumps(rec))
        return rec

    def records(self) -> list[dict]:
        """Every complete record; a partial last line (a killed writer) is skipped."""
        try:
            text = self.jsonl_file.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            return []
        out = []
        for line in text.split("\n"):
            try:
                rec = json.loads(line) if line.strip() else None
            except ValueError:
                rec = None
            if isinstance(rec, dict) and "trial" in rec:
                out.append(rec)
        return out

    def state(self) -> dict:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write_state(self, **state) -> None:
        _atomic_write(self.state_file, json.dumps({**state, "time": round(time.time(), 3)}))

    def write_csv(self) -> None:
        """One row per ended trial (by trial number): params, status, metrics, epochs, seconds."""
        info = load_sweep(self.path)
        base = info.meta["base"]
        keys = [p["key"] for p in info.meta.get("space", [])]
        tests = metric_keys(base)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["trial", "status", *keys, f"valid_{info.metric}", *(f"test_{k}" for k in tests),
                    "best_epoch", "epochs", "seconds", "run", "reason"])
        for t in info.trials:
            if t.status not in ENDED:
                continue
            w.writerow([t.index, t.status, *(_cell(t.params.get(k)) for k in keys), _cell(t.value),
                        *(_cell(t.test.get(k)) for k in tests), _cell(t.best_epoch), _cell(t.epochs),
                        _cell(t.seconds), t.run.name if t.run else "", t.reason])
        _atomic_write(self.csv_file, buf.getvalue())

    def write_best(self, info: SweepInfo) -> Path | None:
        best = info.best
        if best is None:
            return None
        cfg = trial_config(info.meta["base"], best.params)  # the base's own thread setting
        _atomic_write(self.best_file, f"# best trial {best.index} of sweep {info.path.name}: "
                                      f"{format_params(best.params)}\n"
                                      f"# valid {info.metric} {best.value:.4f}\n" + config_files.dump(cfg))
        return self.best_file


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser when PyYAML has it
_META_CACHE: dict = {}


class _Dumper(yaml.SafeDumper):
    """Safe YAML that writes multi-line text (the hyper.test file) as a readable block."""


_Dumper.add_representer(str, lambda d, s: d.represent_scalar(
    "tag:yaml.org,2002:str", s, style="|" if "\n" in s else None))


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------- running

@dataclass
class _Slot:
    trial: TrialInfo
    run: RunDir
    proc: Child
    started: float
    prior_seconds: float = 0.0
    resumed: bool = False


class Runner:
    """Runs a sweep's unfinished trials, `workers` at a time, each in its own worker
    process (`spawn(run_dir, resume=, env=)`, engine.worker.spawn by default).

    A failed trial is recorded and the sweep goes on. When `should_stop()` turns true no
    trial starts, running workers get SIGINT (killed after `stop_grace` seconds) and are
    recorded as stopped; running the Runner again (resume) skips finished and skipped
    trials, continues stopped ones from their resume.pt, and re-runs the rest.

    Trials that differ only in lines that cannot change a run (tuning.inert: w_min while
    time-aware is off, a key of another model) would repeat one seeded run: one of them
    runs, the others take its result (recorded with `same_as`) and never start a worker."""

    def __init__(self, path: str | Path, workers: int, threads: int | None = None,
                 spawn: Callable | None = None, poll_seconds: float = 0.2,
                 stop_grace: float = STOP_GRACE_SECONDS):
        if spawn is None:
            from engine.worker import spawn
        self.sd = SweepDir(path)
        self.workers, self.threads = max(1, workers), threads
        self.spawn, self.poll_seconds, self.stop_grace = spawn, poll_seconds, stop_grace
        self.running: dict[int, _Slot] = {}

    def run(self, should_stop: Callable[[], bool] = lambda: False,
            on_update: Callable[[TrialInfo], None] = lambda t: None,
            on_tick: Callable[[], None] = lambda: None) -> SweepInfo:
        info = load_sweep(self.sd.path)
        self.base, self.metric = info.meta["base"], info.metric
        self.trials = {t.index: t for t in info.trials}
        group, self.same_why = same_config(Space.from_list(info.meta.get("space", [])), self.base,
                                           info.meta.get("plan", []))
        self.twins: dict[int, list[int]] = {}
        for index, first in group.items():
            self.twins.setdefault(first, []).append(index)
        self.group = group
        self.sd.write_state(status="running", pid=os.getpid(), workers=self.workers, threads=self.threads)
        self._settle(info)
        self._adopt_orphans(info)
        todo = [t for t in info.trials if t.status not in DONE and t.index not in self.running]
        stop_at: float | None = None
        try:
            while self.running or (todo and stop_at is None):
                if stop_at is None and should_stop():
                    stop_at = time.monotonic()
                    for slot in self.running.values():
                        slot.proc.stop(signal.SIGINT)
                while stop_at is None and len(self.running) < self.workers:
                    t = self._next(todo)
                    if t is None:
                        break
                    source = self._finished_twin(t)
                    on_update(self._reuse(t, source) if source else self._start(t))
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
                else "finished"
            self.sd.write_state(status=status, pid=os.getpid(), workers=self.workers, threads=self.threads)
            self.sd.write_csv()
            self.sd.write_best(info)
        return load_sweep(self.sd.path)

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
                     if self.trials[m].status == "finished" and self.trials[m].same_as is None), None)

    def _reuse(self, t: TrialInfo, source: TrialInfo) -> TrialInfo:
        t.status, t.run, t.same_as = "finished", source.run, source.index
        t.value, t.valid, t.test = source.value, dict(source.valid), dict(source.test)
        t.best_epoch, t.epochs, t.seconds = source.best_epoch, source.epochs, 0.0
        t.reason = f"same config as trial {source.index}: {self.same_why}"
        self._record_end(t)
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
        env = None
        if threads:  # numpy/scipy/OpenMP pools follow the trial's share of the cores too
            env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
                   "OPENBLAS_NUM_THREADS": str(threads)}
        proc = Child(self.spawn(run.path, resume=resume, env=env))
        self.running[t.index] = _Slot(t, run, proc, time.monotonic(), prior, resume)
        self.sd.record({"trial": t.index, "status": "running", "params": t.params, "run": run.path.name,
                        "resumed": resume})
        t.status, t.run, t.reason = "running", run.path, ""
        return t

    def _finish(self, slot: _Slot) -> TrialInfo:
        t, run = slot.trial, slot.run
        summary = run.summary() or {}
        status = summary.get("status")
        if status in ("finished", "stopped", "failed"):
            _fill_from_summary(t, summary, self.metric)
            t.status = status
            if status == "failed" and not slot.resumed and discard_unstarted(run):
                t.run = None  # it failed on its input before training: no folder is kept
        else:
            t.status, t.valid, t.test, t.value, t.best_epoch = "failed", {}, {}, None, None
            run.record_exit(slot.proc.poll())
            t.reason = f"without a result: {run.gone_reason(slot.proc.poll())}"
        t.seconds = round(slot.prior_seconds + time.monotonic() - slot.started, 2)
        self._record_end(t)
        self.sd.write_csv()
        return t

    def _record_end(self, t: TrialInfo) -> None:
        self.sd.record({"trial": t.index, "status": t.status, "params": t.params,
                        "run": t.run.name if t.run else None, "metric": self.metric, "value": t.value,
                        "valid": t.valid, "test": t.test, "best_epoch": t.best_epoch, "epochs": t.epochs,
                        "seconds": t.seconds, "reason": t.reason,
                        **({"same_as": t.same_as} if t.same_as is not None else {})})
