"""A run the app follows: its worker process and the state folded from its events.

No Textual here: the Train screen polls a `LiveRun` on a timer and draws its `RunState`.
The worker is a separate process (engine.processes.worker.spawn), so torch never loads in the UI.
"""
from __future__ import annotations

import signal
import subprocess
from collections import deque
from pathlib import Path

from engine.config.fields import metric_key
from engine.records.runs import TERMINAL, RunDir, pid_alive
from engine.records.events import EventFollower
from engine.processes.supervisor import Child

LOG_LINES = 1000  # event-log lines kept in memory (the pane scrolls back through them)
ENDED = (*TERMINAL, "dead")  # dead: the worker vanished without a final event


def describe(ev: dict, keys=None) -> str:
    """One line for the event log (the headless CLI's wording; `keys`: the metrics shown)."""
    from diffrec_tui.text import HEADLINE_KEYS, describe as plain
    try:
        return plain(ev, keys or HEADLINE_KEYS)
    except (KeyError, TypeError, ValueError):  # an event from a newer or older writer
        return str(ev.get("type", "?"))


class RunState:
    """What the Train screen shows, built only from events (so a canned events file
    draws exactly what the live run drew)."""

    def __init__(self, run_id: str, config: dict):
        self.run_id = run_id
        self.config = config
        self.status = "starting"
        self.total_epochs = int(config.get("epochs") or 0)
        self.epochs: list[int] = []
        self.losses: list[float] = []
        self.epoch_seconds: list[float] = []
        self.evals: list[dict] = []  # eval events, in order
        self.eval_seconds: list[float] = []
        self.started: dict = {}
        self.result: dict = {}  # the finished/stopped/failed event
        self.reason = ""
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self.version = 0  # bumped on every change; the screen redraws when it moves
        self.headline = headline_keys(config)  # the metrics valid_metric and topk name

    def apply(self, ev: dict) -> None:
        t = ev.get("type")
        if t == "started":
            self.started = ev
            self.status = "running"
        elif t == "epoch":
            self.epochs.append(int(ev["epoch"]))
            self.losses.append(float(ev["loss"]))
            self.epoch_seconds.append(float(ev.get("seconds", 0.0)))
            self.total_epochs = int(ev.get("epochs") or self.total_epochs)
            self.status = "running"
        elif t == "eval":
            self.evals.append(ev)
            self.eval_seconds.append(float(ev.get("seconds", 0.0)))
        elif t in TERMINAL:
            self.result = ev
            self.status = t
            self.reason = str(ev.get("reason") or "")
        self.log.append(describe(ev, self.headline))
        self.version += 1

    def add_lines(self, lines: list[str]) -> None:
        """Lines for the event log that are no event (the config's notes); counted in
        `version` like events, so the screen writes them."""
        self.log.extend(lines)
        self.version += len(lines)

    def mark_dead(self, reason: str) -> None:
        """The worker is gone without writing a final event (killed, crashed hard)."""
        if self.status in ENDED:
            return
        self.status = "dead"
        self.reason = reason
        self.log.append(f"dead: {reason}")
        self.version += 1

    @property
    def active(self) -> bool:
        return self.status not in ENDED

    @property
    def epoch(self) -> int:
        return self.epochs[-1] if self.epochs else 0

    def eta_seconds(self) -> float | None:
        """Remaining time if every epoch runs: mean of the last 10 epoch times, plus the
        evaluations still due at the mean evaluation time."""
        if not self.epochs or not self.active or not self.total_epochs:
            return None
        left = max(0, self.total_epochs - self.epoch)
        recent = self.epoch_seconds[-10:]
        per_epoch = sum(recent) / len(recent)
        step = int(self.config.get("eval_step") or 1)
        evals_left = sum(1 for e in range(self.epoch + 1, self.total_epochs + 1)
                         if e % step == 0 or e == self.total_epochs)
        per_eval = sum(self.eval_seconds[-5:]) / len(self.eval_seconds[-5:]) if self.eval_seconds else 0.0
        return left * per_epoch + evals_left * per_eval

    def metric_keys(self) -> list[str]:
        return list(self.evals[-1]["valid"]) if self.evals else []

    def ks(self) -> list[int]:
        """Cut-offs present in the evaluations (else the config's topk)."""
        found = sorted({int(k.split("@")[1]) for k in self.metric_keys() if "@" in k})
        return found or [int(k) for k in self.config.get("topk") or [20]]

    def series(self, metric: str, split: str) -> tuple[list[int], list[float]]:
        """(epochs, values) of e.g. metric 'recall@20' on split 'valid' or 'test'."""
        xs, ys = [], []
        for ev in self.evals:
            v = (ev.get(split) or {}).get(metric)
            if v is not None:
                xs.append(int(ev["epoch"]))
                ys.append(float(v))
        return xs, ys

    def best(self) -> tuple[int | None, dict, dict]:
        """(epoch, valid, test) of the best evaluation by the config's valid_metric."""
        if self.result.get("valid"):
            return self.result.get("best_epoch"), self.result["valid"], self.result.get("test") or {}
        key = valid_key(self.config)
        scored = [e for e in self.evals if key in (e.get("valid") or {})]
        if not scored:
            return None, {}, {}
        sign = 1.0 if self.config.get("valid_metric_bigger", True) else -1.0
        ev = max(scored, key=lambda e: sign * e["valid"][key])
        return ev["epoch"], ev["valid"], ev["test"]


def headline_keys(cfg: dict) -> tuple[str, ...]:
    from diffrec_tui.text import headline_keys as keys
    return keys(cfg)


def valid_key(cfg: dict) -> str:
    return metric_key(cfg.get("valid_metric", "Recall@20"))


class LiveRun:
    """A run directory plus, when the app started it, the worker process."""

    def __init__(self, run: RunDir, proc: subprocess.Popen | None = None):
        self.run = run
        self.proc = proc
        try:
            cfg = run.config()
        except Exception:  # a hand-edited config must not stop us from showing events
            cfg = {}
        self.state = RunState(run.id, cfg)
        self.follower = EventFollower(run.events_file, 0)
        self.child: Child | None = Child(proc) if proc is not None else None
        self.exit_code: int | None = None
        self.resumed = False
        self.discarded = False  # its worker failed on its input before training: folder removed

    @classmethod
    def start(cls, runs_dir: str | Path, cfg: dict, note: str | None = None) -> "LiveRun":
        """Create a run directory and its worker; `note` (the config's note lines) opens
        the event log."""
        from engine.processes.worker import spawn
        run = RunDir.create(Path(runs_dir).resolve(), cfg)
        live = cls(run, spawn(run.path))
        if note:
            live.state.add_lines(note.splitlines())
        return live

    @classmethod
    def resume(cls, path: str | Path) -> "LiveRun":
        """Continue a stopped or failed run from its resume point in a new worker."""
        from engine.processes.worker import spawn
        run = RunDir(Path(path).resolve())
        live = cls(run, None)
        live.follower.offset = run.events_file.stat().st_size if run.events_file.exists() else 0
        live.proc, live.resumed = spawn(run.path, resume=True), True
        live.child = Child(live.proc)
        return live

    @classmethod
    def attach(cls, path: str | Path) -> "LiveRun":
        """Follow an existing run (started by the app, headless, or long finished)."""
        live = cls(RunDir(path))
        live.poll()
        return live

    @property
    def id(self) -> str:
        return self.run.id

    @property
    def pid(self) -> int | None:
        if self.proc is not None:
            return self.proc.pid
        rec = self.run.worker()
        return rec["pid"] if rec else self.state.started.get("pid")

    @property
    def stop_requested_at(self) -> float | None:
        return self.child.stop_asked_at if self.child is not None else None

    @property
    def killed(self) -> bool:
        return self.child is not None and self.child.killed

    def alive(self) -> bool:
        """Is the worker process still there?"""
        if self.proc is not None:
            return self.proc.poll() is None
        alive = self.run.worker_alive()
        return pid_alive(self.pid) if alive is None else alive

    def _known(self) -> bool:
        """Is there a worker whose death we could notice (ours, recorded, or in an event)?"""
        return self.proc is not None or bool(self.state.started) or self.run.worker() is not None

    def poll(self) -> bool:
        """Read new events and check the process; True if anything changed."""
        before = self.state.version
        for ev in self.follower.poll():
            self.state.apply(ev)
        if self.state.active and self._known() and not self.alive():
            for ev in self.follower.poll():  # events written just before it exited
                self.state.apply(ev)
            if self.state.active:
                code = self.proc.returncode if self.proc is not None else None
                self.run.record_exit(code)
                why = f"killed after the stop timeout without a final event; see {self.run.log_file.name}" if self.killed \
                    else self.run.gone_reason(code)
                self.state.mark_dead(why)
        if self.proc is not None and self.proc.poll() is not None:
            self.exit_code = self.proc.returncode
            self._discard_if_unstarted()
        return self.state.version != before

    def _discard_if_unstarted(self) -> None:
        """A run this app started whose worker failed on its input before training: the
        screen shows the reason; no failed run folder is left behind."""
        if self.discarded or self.resumed or self.state.started:
            return
        from engine.records.runs import discard_unstarted
        if self.state.result.get("kind") == "input" and discard_unstarted(self.run):
            self.discarded = True
            self.state.log.append("nothing was trained: the run folder was removed")
            self.state.version += 1

    def stop(self) -> bool:
        """Ask the worker to stop at the next batch (SIGINT to its process group)."""
        pid = self.pid
        if not pid or not self.alive():
            return False
        if self.child is None:
            self.child = Child(pid=int(pid))
        return self.child.stop(signal.SIGINT)

    def enforce_stop(self, grace: float) -> bool:
        """Kill a worker that did not stop within `grace` seconds; True if killed now."""
        return self.child is not None and self.child.enforce(grace)

    def detach(self) -> None:
        """Leave the worker running when the app exits (it stops with the app otherwise)."""
        self.run.detach()

    def log_tail(self, n: int = 12) -> list[str]:
        """The last lines of the worker's log (a crash's traceback ends up there)."""
        return self.run.log_tail(n)
