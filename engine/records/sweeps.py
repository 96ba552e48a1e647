"""A sweep directory and its reader (no torch here); engine.processes.sweep_runner runs its trials.

runs/sweep-<YYYYmmdd-HHMMSS>-<name>/
  sweep.yaml     the search: hyper.test text, space, base config, strategy (grid|random|bayes),
                 trials, seed, prune (none|asha|median) and the pruner's settings, plan
                 (bayes: empty; each proposed trial is recorded in results.jsonl, pending)
  state.json     the coordinator: status (running|finished|stopped), pid, workers, threads
  results.jsonl  append-only: one record when a trial starts (status running, its run
                 directory) and one when it ends (finished|stopped|failed|skipped|pruned,
                 metrics; pruned: the epoch and value that stopped it, every trial its curve);
                 a trial's latest record wins
  results.csv    one row per ended trial, rewritten (atomically) after each one ends
  best.yaml      the full config of the best finished trial, ready for `--run`
  workers.log    the long-lived trial workers' own output (each trial's is in its worker.log)
  <run dirs>     one ordinary run directory per trial (engine.records.runs), so
                 `engine.records.runs.list_runs(sweep_dir)` lists the trials

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
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from engine.config import schema as config_mod
from engine.config import fields as config_fields
from engine.config import files as config_files
from engine.errors import os_errors
from engine.records.runs import RUNS_FIX, RunDir, _slug, load_run, make_folder, pid_alive
from engine.records.events import append_line
from engine.search.space import Space, Trial, format_params, trial_config

SWEEP_FILE, STATE_FILE = "sweep.yaml", "state.json"
RESULTS_JSONL, RESULTS_CSV, BEST_FILE = "results.jsonl", "results.csv", "best.yaml"
LOG_FILE = "sweep.log"
WORKERS_LOG = "workers.log"
ENDED = ("finished", "stopped", "failed", "skipped", "pruned")
DONE = ("finished", "skipped", "pruned")  # a resumed sweep does not run these again
SETTLED = (*DONE, "failed")  # ended for good: counted as done (a stopped trial can resume)


def metric_keys(cfg: dict) -> list[str]:
    """Every metric a run of `cfg` reports, in the trainer's order (by K, then metric)."""
    return [f"{m.lower()}@{k}" for k in cfg.get("topk", []) for m in cfg.get("metrics", [])]


# ---------------------------------------------------------------- reading

@dataclass
class TrialInfo:
    index: int
    params: dict
    status: str = "pending"  # pending | running | finished | stopped | failed | skipped | pruned | dead
    run: Path | None = None
    value: float | None = None  # the validation metric of the best epoch
    valid: dict = field(default_factory=dict)
    test: dict = field(default_factory=dict)
    best_epoch: int | None = None
    epochs: int | None = None
    seconds: float | None = None
    reason: str = ""
    same_as: int | None = None  # the result is this trial's: the two configs are the same
    pruned: dict | None = None  # {"epoch", "value", "by"}: the evaluation that stopped it
    ended_at: float | None = None  # when its end was recorded (epoch seconds)


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
        return config_fields.metric_key(self.meta.get("base", {}).get("valid_metric", "Recall@20"))

    @property
    def status(self) -> str:
        """running (a live coordinator), finished (every trial ended, none stopped), stopped
        (some trials left: resume it), or pending (created, never run)."""
        if self.state.get("status") == "running" and pid_alive(self.state.get("pid")):
            return "running"
        if all(t.status in SETTLED for t in self.trials) \
                and len(self.trials) >= self.size:
            return "finished"
        return "stopped" if self.state else "pending"

    @property
    def size(self) -> int:
        """How many trials the sweep has when done (bayes proposes them as it runs)."""
        if self.meta.get("strategy") == "bayes":
            return max(len(self.trials), int(self.meta.get("trials") or 0))
        return len(self.trials)

    @property
    def todo(self) -> int:
        """Trials a run (or resume) of the sweep still has to run or propose."""
        return sum(1 for t in self.trials if t.status not in DONE) + self.size - len(self.trials)

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
        if t is None and "proposed" in rec and isinstance(rec["trial"], int) and isinstance(rec.get("params"), dict):
            t = trials[rec["trial"]] = TrialInfo(rec["trial"], dict(rec["params"]))  # a bayes trial
        if t is not None:
            _apply(t, rec, sd.path)
    metric = config_fields.metric_key(meta.get("base", {}).get("valid_metric", "Recall@20"))
    state = sd.state()
    live = state.get("status") == "running" and pid_alive(state.get("pid"))
    for t in trials.values():
        if t.status == "running" and t.run is not None:
            _from_run(t, metric, coordinator_alive=live)
    return SweepInfo(sd.path, meta, [trials[i] for i in sorted(trials)], state)


def sweep_dirs(root: str | Path) -> list[Path]:
    """The sweep directories directly under `root`, newest first (names start with a stamp)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = (p for p in root.iterdir() if p.name.startswith("sweep-") and (p / SWEEP_FILE).is_file())
    return sorted(found, key=lambda p: p.name, reverse=True)


def list_sweeps(root: str | Path) -> list[SweepInfo]:
    """Every readable sweep under `root`, newest first; a damaged one is left out, never fatal."""
    out = []
    for path in sweep_dirs(root):
        try:
            out.append(load_sweep(path))
        except config_mod.ConfigError:
            continue
    return out


def list_all_runs(root: str | Path) -> list:
    """Every run under `root` and the trials of its sweeps, newest first, through the run index."""
    from engine.records.run_index import RunIndex  # (it imports this module's file names)
    return RunIndex.shared(root).runs(sweeps=True)


def _apply(t: TrialInfo, rec: dict, root: Path) -> None:
    t.status = rec.get("status", t.status)
    if "run" in rec:  # None: the trial's folder was removed (it failed on its input before training)
        t.run = root / rec["run"] if rec["run"] else None
    for name in ("value", "best_epoch", "epochs", "seconds"):
        setattr(t, name, rec.get(name))
    t.valid, t.test = rec.get("valid") or {}, rec.get("test") or {}
    t.reason = rec.get("reason") or ""
    t.same_as = rec.get("same_as")
    t.pruned = rec.get("pruned") if isinstance(rec.get("pruned"), dict) else None
    t.ended_at = rec.get("time") if t.status in ENDED and isinstance(rec.get("time"), (int, float)) else None


def _from_run(t: TrialInfo, metric: str, coordinator_alive: bool) -> None:
    """A trial recorded as running: its run directory says whether it still is."""
    info = load_run(t.run)
    status = info.status
    if status == "running" and not info.events and not coordinator_alive and RunDir(t.run).worker() is None:
        status = "dead"  # its worker never started and nobody will start it now
    if status in ("finished", "stopped", "failed"):
        fill_from_summary(t, info.summary or {}, metric)
        t.status = status
    else:
        t.status = status  # running or dead
        t.epochs = info.epochs
        valid, test = info.best
        t.valid, t.test, t.value = valid, test, valid.get(metric)
        if status == "dead":
            t.reason = info.reason


def fill_from_summary(t: TrialInfo, summary: dict, metric: str) -> None:
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
    log_file = property(lambda self: self.path / LOG_FILE)  # the coordinator's own output
    workers_log = property(lambda self: self.path / WORKERS_LOG)  # long-lived workers, between trials

    def exists(self) -> bool:
        """Is this a sweep directory (it has its sweep.yaml)?"""
        return self.sweep_file.is_file()

    def best_trial_written(self) -> int | None:
        """The trial whose config best.yaml holds (its first line says), or None."""
        try:
            with open(self.best_file, encoding="utf-8") as fh:
                first = fh.readline()
        except OSError:
            return None
        head, _, _ = first.removeprefix("# best trial ").partition(" ")
        return int(head) if first.startswith("# best trial ") and head.isdigit() else None

    @classmethod
    def create(cls, root: str | Path, name: str, space: Space, base: dict, strategy: str,
               trials: list[Trial], seed: int, hyper_text: str = "", hyper_file: str | None = None,
               now: datetime | None = None, size: int | None = None, prune: str = "none",
               pruner: dict | None = None) -> "SweepDir":
        """`size`: the trials a bayes search proposes (its plan is empty); `prune` and
        `pruner` (engine.search.pruning.settings): what stops bad trials early."""
        sd = cls(make_folder(root, f"sweep-{(now or datetime.now()).strftime('%Y%m%d-%H%M%S')}-{_slug(name)}"))
        meta = {"name": name, "created": datetime.now().isoformat(timespec="seconds"),
                "hyper_file": hyper_file, "hyper_text": hyper_text, "strategy": strategy,
                "trials": size or len(trials), "seed": seed, "prune": prune, "pruner": pruner or {},
                "valid_metric": base["valid_metric"],
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
