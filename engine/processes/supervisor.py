"""One supervisor for every child process (training workers, sweep trials): ask a child to
stop at a batch boundary, kill it when it has not after a grace time, and turn the signals
that end a headless command (SIGINT from Ctrl-C, SIGTERM from `timeout` or a batch
scheduler, SIGHUP from a closed ssh session) into that stop, so no child outlives the
command that started it.

The other half lives in the child: a supervised worker watches its supervisor and stops on
its own when the supervisor is gone (even after kill -9), unless the run was detached (the
app's "leave running" is the only thing that detaches one). No torch here.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from typing import Callable

from engine.errors import ExitCode
from engine.records.events import EventFollower
from engine.records.runs import RunDir, pid_alive

STOP_GRACE_SECONDS = 30.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def exit_status(signum: int) -> int:
    """The shell's status for a command ended by `signum`: 130 SIGINT, 143 SIGTERM, 129 SIGHUP."""
    code = 128 + int(signum)
    return ExitCode(code) if code in ExitCode._value2member_map_ else code


def signalled(code: int | None) -> bool:
    """Did a child with this exit status stop on a signal (-N from Popen, or 128+N from a
    process that handled it and exited with the shell's status)?"""
    return code is not None and (code < 0 or code in (ExitCode.HANGUP, ExitCode.INTERRUPTED, ExitCode.TERMINATED))


class Child:
    """A child process: one this process spawned (a Popen), or one known only by its pid (a
    worker left by a coordinator that died). Signals go to its process group when it leads
    one (workers are spawned in their own session), so its own children stop too."""

    def __init__(self, proc: subprocess.Popen | None = None, pid: int | None = None):
        self.proc = proc
        self.pid = proc.pid if proc is not None else int(pid)
        self._code: int | None = None
        self.stop_asked_at: float | None = None
        self.killed = False

    def poll(self) -> int | None:
        """The exit status once it has ended (-N: killed by signal N; -1: unknown), else None."""
        if self.proc is not None:
            return self.proc.poll()
        if self._code is None and not pid_alive(self.pid):
            self._code = -1
        return self._code

    @property
    def returncode(self) -> int | None:
        return self.poll()

    def alive(self) -> bool:
        return self.poll() is None

    def send_signal(self, sig: int) -> bool:
        if not self.alive():
            return False
        try:
            if os.getpgid(self.pid) == self.pid:
                os.killpg(self.pid, sig)
            else:
                os.kill(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def stop(self, sig: int = signal.SIGINT) -> bool:
        """Ask it to stop at its next batch boundary; the grace time runs from the first ask."""
        if self.stop_asked_at is None:
            self.stop_asked_at = time.monotonic()
        return self.send_signal(sig)

    def kill(self) -> bool:
        self.killed = self.send_signal(signal.SIGKILL) or self.killed
        return self.killed

    def enforce(self, grace: float) -> bool:
        """Kill it if a stop was asked `grace` seconds ago or more and it is still there."""
        if self.stop_asked_at is None or self.killed or not self.alive():
            return False
        if time.monotonic() - self.stop_asked_at < grace:
            return False
        return self.kill()

    def wait(self, timeout: float | None = None, poll: float = 0.05) -> int | None:
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None and (end is None or time.monotonic() < end):
            time.sleep(poll)
        return self.poll()


class Signals:
    """While active, SIGINT, SIGTERM and SIGHUP call `on_signal(signum)` instead of ending
    this process; `received` lists them in order, `exit_status` is the shell's status for
    the first. Outside the main thread (where Python cannot take signals) it does nothing."""

    def __init__(self, on_signal: Callable[[int], None] = lambda signum: None, signals=STOP_SIGNALS):
        self.on_signal, self.signals = on_signal, signals
        self.received: list[int] = []
        self._old: dict = {}

    def _handle(self, signum, frame) -> None:
        self.received.append(signum)
        self.on_signal(signum)

    def __enter__(self) -> "Signals":
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> bool:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()
        return False

    @property
    def first(self) -> int | None:
        return self.received[0] if self.received else None

    @property
    def exit_status(self) -> int | None:
        return exit_status(self.first) if self.received else None


class Supervision:
    """A headless command's training workers, one at a time: `run(run_dir, on_event)` spawns
    the worker and follows its events until it exits. While `signals` is active, SIGINT,
    SIGTERM and SIGHUP ask the running worker to stop at a batch boundary; a second signal,
    or the grace time running out, kills it."""

    def __init__(self, grace: float = STOP_GRACE_SECONDS):
        self.grace = grace
        self.child: Child | None = None
        self.signals = Signals(self._on_signal)

    @property
    def asked(self) -> bool:
        return bool(self.signals.received)

    def _on_signal(self, signum) -> None:
        if self.child is not None:
            self.child.stop(signum)

    def run(self, run: RunDir, on_event: Callable[[dict], None], resume: bool = False,
            offset: int = 0) -> tuple[dict | None, int | None]:
        """(the last event, the worker's exit status); events from byte `offset` on."""
        from engine.processes.worker import spawn

        follower = EventFollower(run.events_file, offset)
        self.child = child = Child(spawn(run.path, resume=resume))
        if self.signals.received:  # arrived while the worker was being spawned
            child.stop(self.signals.first)
        last = None
        try:
            while True:
                done = child.poll() is not None
                for ev in follower.poll():
                    on_event(ev)
                    last = ev
                if done:
                    return last, child.returncode
                try:
                    child.proc.wait(timeout=0.1)  # returns as soon as the worker exits
                except subprocess.TimeoutExpired:
                    pass
                child.enforce(0.0 if len(self.signals.received) > 1 else self.grace)
        finally:
            self.child = None


def watch_supervisor(supervisor: int, detached: Callable[[], bool], on_gone: Callable[[], None],
                     grace: float = STOP_GRACE_SECONDS, poll: float = 0.5) -> threading.Thread:
    """In a child: when the process `supervisor` (our parent) is gone, call `on_gone` (ask
    for a stop at the next batch) unless `detached()`; if this process is still there
    `grace` seconds later, kill it. A daemon thread: it never keeps the process alive."""
    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(poll)
        if detached():
            return
        on_gone()
        time.sleep(grace)
        os.kill(os.getpid(), signal.SIGKILL)

    thread = threading.Thread(target=watch, name="supervisor-watch", daemon=True)
    thread.start()
    return thread
