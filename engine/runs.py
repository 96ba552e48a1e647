"""The run directory: the contract between trainer, CLI and app (no torch here).

runs/<YYYYmmdd-HHMMSS>-<model>-<dataset>[-<n>]/
  config.yaml    resolved config, written before training starts
  events.jsonl   one JSON object a line, flushed after each line
  checkpoint.pt  best model so far; resume.pt: last state for --resume
  summary.json   status, best_epoch, epochs_run, valid, test, split (sizes, rule, unseen targets), timings
  worker.log     the worker's stdout/stderr
  tokens.json    the dataset's own user/item ids and item titles (atomic and CSV data)
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import config as config_mod

TERMINAL = ("finished", "stopped", "failed")
DEFAULT_RUNS_DIR = "runs"


def runs_root(explicit: str | None = None, cfg: dict | None = None) -> Path:
    """Where runs are recorded, as an absolute path: --runs-dir, else the config's RecBole
    checkpoint_dir, else $DIFFREC_RUNS_DIR, else ./runs."""
    chosen = explicit or (cfg or {}).get("checkpoint_dir") or os.environ.get("DIFFREC_RUNS_DIR") or DEFAULT_RUNS_DIR
    return Path(chosen).expanduser().resolve()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "_", str(text)).strip("_") or "data"


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

    @classmethod
    def create(cls, root: str | Path, cfg: dict, now: datetime | None = None) -> "RunDir":
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{_slug(cfg['model'])}-{_slug(cfg['dataset'])}"
        for n in range(1, 10_000):
            path = root / (base if n == 1 else f"{base}-{n}")
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        run = cls(path)
        config_mod.save(cfg, run.config_file)
        return run

    def config(self) -> dict:
        return config_mod.read_yaml(self.config_file)

    def event(self, type_: str, **data) -> dict:
        ev = {"type": type_, "time": round(time.time(), 3), **data}
        with open(self.events_file, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(ev, allow_nan=True) + "\n")
            fh.flush()
        return ev

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


def read_events(path: str | Path) -> list[dict]:
    """All complete events; a partial or corrupt line (a killed writer) is skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return []
    return [ev for ev in map(_parse, text.split("\n")) if ev is not None]


def _parse(line: str) -> dict | None:
    line = line.strip()
    if not line:
        return None
    try:
        ev = json.loads(line)
    except ValueError:
        return None
    return ev if isinstance(ev, dict) and "type" in ev else None


class EventFollower:
    """Reads new events from a growing events.jsonl, one `poll()` at a time."""

    def __init__(self, path: str | Path, offset: int = 0):
        self.path = Path(path)
        self.offset = offset

    def poll(self) -> list[dict]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except OSError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []  # only a partial line so far
        self.offset += end + 1
        lines = chunk[: end + 1].decode("utf-8", errors="replace").split("\n")
        return [ev for ev in map(_parse, lines) if ev is not None]


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
        if self.summary and self.summary.get("status") in TERMINAL:
            return self.summary["status"]
        last = next((e for e in reversed(self.events) if e["type"] in TERMINAL), None)
        if last:
            return last["type"]
        started = next((e for e in self.events if e["type"] == "started"), None)
        if started and pid_alive(started.get("pid")):
            return "running"
        return "running" if not self.events else "dead"

    @property
    def epochs(self) -> int:
        return max((e["epoch"] for e in self.events if e["type"] == "epoch"), default=0)

    @property
    def best(self) -> tuple[dict, dict]:
        """(valid, test) metrics of the best evaluation so far (summary if finished)."""
        if self.summary and self.summary.get("valid"):
            return self.summary["valid"], self.summary.get("test", {})
        key = _metric_key(self.config.get("valid_metric", "Recall@20"))
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


def _metric_key(valid_metric: str) -> str:
    m = config_mod.parse_metric(valid_metric)
    return f"{m[0]}@{m[1]}" if m else "recall@20"


def load_run(path: str | Path) -> RunInfo:
    run = RunDir(path)
    try:
        cfg = run.config()
    except Exception:  # a half-written or hand-edited config must not hide the run
        cfg = {}
    return RunInfo(run.path, cfg, run.summary(), run.events())


RUN_FILES = ("config.yaml", "events.jsonl", "summary.json", "worker.log", "tokens.json")


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


def list_runs(root: str | Path) -> list[RunInfo]:
    root = Path(root)
    if not root.is_dir():
        return []
    dirs = [p for p in root.iterdir() if p.is_dir() and (p / "config.yaml").is_file()]
    return [load_run(p) for p in sorted(dirs, reverse=True)]
