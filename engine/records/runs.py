"""The run directory: the contract between trainer, CLI and app (no torch here).

runs/<YYYYmmdd-HHMMSS>-<model>-<dataset>[-<n>]/
  config.yaml    resolved config, written before training starts
  events.jsonl   one JSON object a line, flushed after each line
  checkpoint.pt  best model so far; resume.pt: last state for --resume
  summary.json   status, best_epoch, epochs_run, valid, test, split (sizes, rule, unseen targets), timings
  worker.log     the worker's stdout/stderr
  tokens.json    the dataset's own user/item ids and item titles (atomic and CSV data)
  worker.json    the worker process: pid, start (its start time, so a reused pid is not it),
                 host, supervisor (the pid that stops it when it exits; null once detached),
                 exit (its status once known: a long-lived sweep worker notes it when the
                 trial ends, as that pid goes on to train other runs)

Everything here is read as untrusted input: a killed writer's partial line, a hand-edited
file or a file from another machine must give a clear status, never an exception.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from engine.config import fields as config_fields
from engine.config import files as config_files
from engine import untrusted
from engine.errors import InputError, one_line, os_errors
from engine.records.events import append_line, read_events

TERMINAL = ("finished", "stopped", "failed", "pruned")  # pruned: a sweep stopped it early
DEFAULT_RUNS_DIR = "runs"
SLUG_CHARS = 60  # of a model or dataset name in a run folder's name (file names stop at 255 bytes)
START_SECONDS = 60.0  # a run with no worker record and no event after this long never started
OTHER_HOST_SECONDS = 3600.0  # a worker on another host is taken for gone after this long without a write
RUNS_FIX = "choose a writable folder with --runs-dir or DIFFREC_RUNS_DIR"


def runs_root(explicit: str | None = None, cfg: dict | None = None) -> Path:
    """Where runs are recorded, as an absolute path: --runs-dir, else the config's RecBole
    checkpoint_dir, else $DIFFREC_RUNS_DIR, else ./runs."""
    chosen = explicit or (cfg or {}).get("checkpoint_dir") or os.environ.get("DIFFREC_RUNS_DIR") or DEFAULT_RUNS_DIR
    return Path(chosen).expanduser().resolve()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "_", str(text)).strip("_.")[:SLUG_CHARS].strip("_.") or "data"


def make_folder(root: str | Path, stem: str) -> Path:
    """A new folder `root/stem` (or `stem-2`, `stem-3`, ... when taken), creating root.
    A root that cannot hold it is an InputError naming the folder and the fix."""
    root = Path(root)
    with os_errors("runs dir", root, RUNS_FIX):
        if root.exists() and not root.is_dir():
            raise InputError(f"runs dir: {root} is a file, not a folder; {RUNS_FIX}")
        root.mkdir(parents=True, exist_ok=True)
        for n in range(1, 10_000):
            path = root / (stem if n == 1 else f"{stem}-{n}")
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue
    raise InputError(f"runs dir: {root} holds 10000 folders named {stem}-*; clean it up or {RUNS_FIX}")


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    # files
    config_file = property(lambda self: self.path / "config.yaml")
    events_file = property(lambda self: self.path / "events.jsonl")
    checkpoint_file = property(lambda self: self.path / "checkpoint.pt")
    resume_file = property(lambda self: self.path / "resume.pt")
    summary_file = property(lambda self: self.path / "summary.json")
    log_file = property(lambda self: self.path / "worker.log")
    tokens_file = property(lambda self: self.path / "tokens.json")

    @property
    def id(self) -> str:
        return self.path.name

    def exists(self) -> bool:
        """Is this a run directory (it has its config)?"""
        return self.config_file.is_file()

    def stamp(self) -> tuple:
        """Changes when the run's files change (events appended, summary or config written)."""
        out = []
        for f in (self.events_file, self.summary_file, self.config_file):
            try:
                st = f.stat()
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append(None)
        return tuple(out)

    @classmethod
    def create(cls, root: str | Path, cfg: dict, now: datetime | None = None) -> "RunDir":
        stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
        run = cls(make_folder(root, f"{stamp}-{_slug(cfg['model'])}-{_slug(cfg['dataset'])}"))
        with os_errors("runs dir", run.path, RUNS_FIX):
            config_files.save(cfg, run.config_file)
        return run

    def config(self) -> dict:
        return untrusted.read_yaml(self.config_file)

    def event(self, type_: str, **data) -> dict:
        ev = {"type": type_, "time": round(time.time(), 3), **data}
        append_line(self.events_file, json.dumps(ev, allow_nan=True))
        return ev

    # the worker process
    worker_file = property(lambda self: self.path / "worker.json")

    def record_worker(self, pid: int, supervisor: int | None) -> None:
        """Who trains this run: written by whoever spawns the worker, before its first event."""
        rec = {"pid": int(pid), "start": process_start(pid), "host": socket.gethostname(),
               "supervisor": supervisor, "time": round(time.time(), 3)}
        tmp = self.worker_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec), encoding="utf-8")
        os.replace(tmp, self.worker_file)

    def worker(self) -> dict | None:
        """worker.json if it is a readable record, else None."""
        try:
            rec = json.loads(self.worker_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        ok = isinstance(rec, dict) and isinstance(rec.get("pid"), int) and not isinstance(rec["pid"], bool)
        return rec if ok else None

    def record_exit(self, code: int | None) -> None:
        """The supervisor saw the worker end without a final event: keep its exit status."""
        rec = self.worker()
        if rec is not None and code is not None and rec.get("exit") is None:
            with contextlib.suppress(OSError):  # a note for readers, not worth failing over
                tmp = self.worker_file.with_suffix(".tmp")
                tmp.write_text(json.dumps({**rec, "exit": code}), encoding="utf-8")
                os.replace(tmp, self.worker_file)

    def detach(self) -> None:
        """Let the worker outlive its supervisor (the app's "leave running")."""
        rec = self.worker()
        if rec is not None and rec.get("supervisor") is not None:
            self.record_worker(rec["pid"], None)

    def worker_alive(self) -> bool | None:
        """True or False when worker.json says; None when there is no record. A recorded exit
        ends it, even while its process lives on (a sweep's long-lived worker, training
        other runs now)."""
        rec = self.worker()
        if rec is not None and rec.get("exit") is not None:
            return False
        return None if rec is None else record_alive(rec, self._last_write())

    def _last_write(self) -> float | None:
        times = []
        for f in (self.events_file, self.worker_file):
            with contextlib.suppress(OSError):
                times.append(f.stat().st_mtime)
        return max(times, default=None)

    def log_tail(self, n: int = 12) -> list[str]:
        """The last non-empty lines of worker.log (a crash's traceback ends up there)."""
        try:
            with open(self.log_file, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 16_384))
                text = fh.read().decode("utf-8", errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if line.strip()][-n:]

    def gone_reason(self, code: int | None = None, full_path: bool = True) -> str:
        """Why a worker that is gone left no final event, for a person: exit code, last log line."""
        rec = self.worker() or {}
        code = rec.get("exit") if code is None else code
        how = f"exited with code {code}" if code is not None and code >= 0 else (
            f"was killed by signal {-code}" if code is not None else "is gone")
        who = f"the worker (pid {rec['pid']})" if rec.get("pid") else "the worker"
        last = self.log_tail(1)
        tail = f": {one_line(last[0])}" if last else ""
        return f"{who} {how} without a final event{tail}; see {self.log_file if full_path else 'worker.log'}"

    def events(self) -> list[dict]:
        return read_events(self.events_file)

    def write_summary(self, summary: dict) -> None:
        tmp = self.summary_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
        os.replace(tmp, self.summary_file)

    def summary(self) -> dict | None:
        try:
            return json.loads(self.summary_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def mark_pruned(self, epoch: int, value: float, by: str, reason: str) -> dict | None:
        """A sweep's pruner stopped this run: its final event and summary say `pruned` (with
        the epoch and value that decided it), so the Runs screen shows it as such. Only a
        run that stopped is marked (one that finished first keeps its result); the summary
        or None."""
        summary = self.summary()
        if not isinstance(summary, dict) or summary.get("status") != "stopped":
            return None
        summary = {**summary, "status": "pruned", "reason": reason,
                   "pruned": {"epoch": epoch, "value": value, "by": by}}
        self.event("pruned", **summary)
        self.write_summary(summary)
        return summary


def process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), to tell it from a later
    process that got the same pid; None where /proc does not say."""
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii", errors="replace") as fh:
            return int(fh.read().rsplit(")", 1)[-1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def record_alive(rec: dict, last_write: float | None = None) -> bool:
    """Is the process a worker record names still that process? One on another host (a
    shared file system, or a run copied here) cannot be asked: it counts as alive while
    the run directory was written to in the last OTHER_HOST_SECONDS."""
    if rec.get("host") not in (None, socket.gethostname()):
        return last_write is None or time.time() - last_write < OTHER_HOST_SECONDS
    if not pid_alive(rec.get("pid")):
        return False
    start = rec.get("start")
    return start is None or process_start(rec["pid"]) in (None, start)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    try:  # a zombie (exited, not yet reaped) is not alive
        with open(f"/proc/{int(pid)}/stat", encoding="ascii") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


@dataclass
class RunInfo:
    path: Path
    config: dict
    summary: dict | None
    events: list[dict] = field(repr=False, default_factory=list)

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def status(self) -> str:
        """finished | stopped | failed (its final event), running (its worker is alive, or it
        was created a moment ago), dead (the worker is gone without a final event)."""
        started = next((e for e in self.events if e["type"] == "started"), None)
        return self._ended() or unended_status(self.path, started, bool(self.events))

    def _ended(self) -> str | None:
        """The final event's type when no later `started` (a resume) follows it."""
        for ev in reversed(self.events):
            if ev["type"] in TERMINAL:
                return ev["type"]
            if ev["type"] == "started":
                return None
        status = (self.summary or {}).get("status")
        return status if status in TERMINAL and not self.events else None

    @property
    def reason(self) -> str:
        """Why it ended: the final event's or summary's reason, or what became of a dead worker."""
        status = self.status
        if status == "dead":
            return dead_reason(self.path, bool(self.events))
        last = next((e for e in reversed(self.events) if e["type"] in TERMINAL), None)
        return str((last or self.summary or {}).get("reason") or "")

    @property
    def epochs(self) -> int:
        return max((e["epoch"] for e in self.events if e["type"] == "epoch"), default=0)

    @property
    def best(self) -> tuple[dict, dict]:
        """(valid, test) metrics of the best evaluation so far (summary if finished)."""
        if self.summary and self.summary.get("valid"):
            return self.summary["valid"], self.summary.get("test", {})
        key = config_fields.metric_key(self.config.get("valid_metric", "Recall@20"))
        evals = [e for e in self.events if e["type"] == "eval"]
        if not evals:
            return {}, {}
        sign = 1.0 if self.config.get("valid_metric_bigger", True) else -1.0
        best = max(evals, key=lambda e: sign * e["valid"].get(key, sign * float("-inf")))
        return best["valid"], best["test"]

    @property
    def fingerprint(self) -> str | None:
        """The dataset fingerprint from the `started` event: runs on the same data share it."""
        return next((e.get("fingerprint") for e in self.events if e["type"] == "started"), None)

    @property
    def started_at(self) -> float | None:
        return self.events[0]["time"] if self.events else None


def unended_status(path: Path, started: dict | None, has_events: bool) -> str:
    """running or dead, for a run without a final event: its worker is alive (or, with no
    worker.json, the `started` event's pid is), or it was created a moment ago."""
    run = RunDir(path)
    alive = run.worker_alive()
    if alive is None:  # no worker.json: written before this contract, or never spawned
        alive = pid_alive(started.get("pid")) if started else (not has_events and _young(run))
    return "running" if alive else "dead"


def _young(run: RunDir) -> bool:
    try:
        return time.time() - run.config_file.stat().st_mtime < START_SECONDS
    except OSError:
        return False


def dead_reason(path: Path, has_events: bool) -> str:
    """What became of a dead run's worker, for a person."""
    run = RunDir(path)
    if run.worker_file.exists() or has_events:
        return run.gone_reason(full_path=False)
    return "no worker was ever started for this run"


def load_run(path: str | Path) -> RunInfo:
    run = RunDir(path)
    try:
        cfg = run.config()
    except Exception:  # a half-written or hand-edited config must not hide the run
        cfg = {}
    return RunInfo(run.path, cfg, run.summary(), run.events())


RUN_FILES = ("config.yaml", "events.jsonl", "summary.json", "worker.log", "tokens.json", "worker.json")


def discard_unstarted(run: RunDir) -> bool:
    """Remove a run directory whose worker failed on its input (data, config, device)
    before training started: it holds nothing but the reason, which the caller has shown.
    Anything unexpected inside keeps it. True if it was removed."""
    events = run.events()
    if not events or any(e["type"] == "started" for e in events):
        return False
    if events[-1]["type"] != "failed" or events[-1].get("kind") != "input":
        return False
    files = list(run.path.iterdir())
    if any(p.name not in RUN_FILES and not p.name.endswith(".tmp") for p in files):
        return False
    for p in files:
        p.unlink()
    run.path.rmdir()
    return True


def list_runs(root: str | Path) -> list:
    """The runs directly under `root`, newest first, through the run index (engine.records.run_index):
    each has RunInfo's properties, read once per change of its files."""
    from engine.records.run_index import RunIndex
    return RunIndex.shared(root).runs(sweeps=False)
