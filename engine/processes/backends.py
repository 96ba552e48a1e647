"""Where a sweep's trials run. A backend's `start(run_path, resume, threads)` returns a handle
with the methods the sweep Runner uses on a supervisor.Child: `poll()` (None while the trial
runs, its exit status after), `stop(sig)` (stop this trial at its next batch boundary) and
`enforce(grace)` (kill what hosts it when it has not stopped in time); `close()` ends what
the backend started.

- LocalBackend (the default): long-lived worker processes (engine.processes.trial_worker),
  one per slot, each reusing its imported torch and loaded dataset trial after trial. A
  stopped trial leaves its worker ready for the next; a worker that dies is recorded like a
  dead one-run worker and replaced by a fresh one.
- SpawnBackend: one interpreter per trial (engine.processes.worker.spawn, or a stand-in).
- RayBackend (engine.processes.ray_backend): Ray actors, the same handles.
No torch here.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from engine.errors import InputError, os_errors
from engine.processes.cores import share
from engine.processes.supervisor import STOP_GRACE_SECONDS, Child
from engine.records.runs import RUNS_FIX, RunDir

BACKENDS = ("local", "process", "ray")
ENGINE_ROOT = Path(__file__).resolve().parent.parent.parent  # where `-m engine...` imports from


def thread_env(threads: int | None) -> dict | None:
    """The environment of a process that runs trials with `threads` threads: numpy/scipy and
    OpenMP pools follow the trial's share of the cores too (torch's is set per trial)."""
    if not threads:
        return None
    n = str(threads)
    return {**os.environ, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n}


class SpawnBackend:
    """One fresh interpreter per trial: `spawn(run_dir, resume=, env=)` -> Popen."""

    def __init__(self, spawn: Callable | None = None):
        if spawn is None:
            from engine.processes.worker import spawn
        self.spawn = spawn

    def start(self, run_path, resume: bool = False, threads: int | None = None) -> Child:
        return Child(self.spawn(run_path, resume=resume, env=thread_env(threads)))

    def close(self) -> None:
        pass


class _Worker:
    """One long-lived trial_worker process and the answers it has given."""

    def __init__(self, threads: int | None, log_file: Path | None):
        cmd = [sys.executable, "-m", "engine.processes.trial_worker", "--supervisor", str(os.getpid())]
        log = open(log_file, "ab") if log_file else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                         start_new_session=True, cwd=str(ENGINE_ROOT), env=thread_env(threads))
        finally:
            if log_file:
                log.close()
        self.child = Child(self.proc)
        self.threads, self.current = threads, None
        self.results: dict[str, int] = {}
        self.trials = 0
        self._reader = threading.Thread(target=self._read, name=f"worker-{self.proc.pid}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
                self.results[str(msg["run"])] = int(msg["code"])
            except (ValueError, KeyError, TypeError):
                continue

    def send(self, msg: dict) -> bool:
        try:
            self.proc.stdin.write((json.dumps(msg) + "\n").encode())
            self.proc.stdin.flush()
            return True
        except (OSError, ValueError):  # it is gone: its trial's poll says how
            return False

    @property
    def busy(self) -> bool:
        return self.current is not None and self.current not in self.results

    def result(self, run: str) -> int | None:
        if run in self.results:
            return self.results[run]
        code = self.proc.poll()
        if code is None:
            return None
        self._reader.join(timeout=2.0)  # an answer written just before it exited
        return self.results.get(run, code)

    def close(self, grace: float) -> None:
        try:
            self.proc.stdin.close()  # end of requests: it stops a trial still running, then exits
        except OSError:
            pass
        if self.child.wait(timeout=grace) is None:
            self.child.kill()
            self.child.wait(timeout=5.0)


class TrialHandle:
    """A trial in a process that hosts many (a long-lived worker, a Ray actor): `stop` asks
    for this trial alone to end at its next batch boundary; `enforce` kills the host when it
    has not within `grace` seconds of the ask. Subclasses give poll, _ask_stop and _kill."""

    def __init__(self, run: str):
        self.run = run
        self.stop_asked_at: float | None = None
        self.killed = False

    def poll(self) -> int | None:
        raise NotImplementedError

    def stop(self, sig: int = signal.SIGINT) -> bool:
        if self.stop_asked_at is None:
            self.stop_asked_at = time.monotonic()
        return self.poll() is None and self._ask_stop()

    def enforce(self, grace: float) -> bool:
        if self.stop_asked_at is None or self.killed or self.poll() is not None:
            return False
        if time.monotonic() - self.stop_asked_at < grace:
            return False
        self.killed = self._kill()
        return self.killed


class LocalTrial(TrialHandle):
    """The handle of one trial in a long-lived worker (the Runner's view of it)."""

    def __init__(self, worker: _Worker, run: str):
        super().__init__(run)
        self.worker = worker

    @property
    def pid(self) -> int:
        return self.worker.proc.pid

    def poll(self) -> int | None:
        return self.worker.result(self.run)

    def _ask_stop(self) -> bool:
        return self.worker.send({"op": "stop", "run": self.run})

    def _kill(self) -> bool:
        return self.worker.child.kill()


class LocalBackend:
    """Long-lived local worker processes; the number alive follows the Runner's slots."""

    def __init__(self, log_file: str | Path | None = None, grace: float = STOP_GRACE_SECONDS):
        self.log_file = Path(log_file) if log_file else None
        self.grace = grace
        self.workers: list[_Worker] = []

    @property
    def spawned(self) -> int:
        return len(self.workers)

    def _idle(self, threads: int | None) -> _Worker | None:
        alive = [w for w in self.workers if w.proc.poll() is None]
        for w in alive:
            if not w.busy and w.threads != threads:
                w.close(self.grace)  # its pools have another size: a fresh worker fits the trial
        return next((w for w in alive if not w.busy and w.threads == threads and w.proc.poll() is None), None)

    def start(self, run_path, resume: bool = False, threads: int | None = None) -> LocalTrial:
        run = RunDir(Path(run_path).resolve())
        worker = self._idle(threads)
        if worker is None:
            with os_errors("runs dir", run.path, RUNS_FIX):
                worker = _Worker(threads, self.log_file)
            self.workers.append(worker)
        run.record_worker(worker.proc.pid, os.getpid())
        worker.current, worker.trials = str(run.path), worker.trials + 1
        worker.send({"op": "run", "run": str(run.path), "resume": bool(resume)})
        return LocalTrial(worker, str(run.path))

    def close(self) -> None:
        for w in self.workers:
            w.close(self.grace)


def make_backend(name: str | None = "local", log_file: str | Path | None = None, address: str | None = None,
                 cpus_per_trial: float | None = None, gpus_per_trial: float | None = None):
    """The backend named on the command line (--backend local|process|ray; None: local)."""
    name = name or "local"
    if name not in BACKENDS:
        raise InputError(f"--backend: must be one of {', '.join(BACKENDS)}, got {name!r}")
    if name != "ray" and (address or cpus_per_trial is not None or gpus_per_trial is not None):
        raise InputError("--address, --cpus-per-trial and --gpus-per-trial need --backend ray")
    if name == "ray":
        from engine.processes.ray_backend import RayBackend
        return RayBackend(address=address, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial)
    return LocalBackend(log_file) if name == "local" else SpawnBackend()


def slots(backend, base: dict, workers: int | None, runnable: int) -> tuple[int, int | None]:
    """(trials at once, threads per trial) on this backend: the local machine's cores shared
    (engine.processes.cores.share), or on Ray the cluster's CPUs over --cpus-per-trial, each
    trial with that many threads (unless the base config fixes `threads`)."""
    if not hasattr(backend, "slots"):
        return share(base, workers, runnable)
    if workers is not None and workers < 1:
        raise InputError(f"--workers: must be >= 1, got {workers}")
    n = workers or max(1, min(backend.slots(), runnable))
    return n, (None if base.get("threads") else max(1, int(backend.cpus)))
