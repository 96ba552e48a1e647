"""A long-lived sweep worker: `python -m engine.processes.trial_worker [--supervisor PID]`.

It trains one trial after another in the same interpreter (torch imported once, datasets
kept by its TrialHost), so a sweep pays the fixed cost of a trial once per worker. The
coordinator (engine.processes.backends.LocalBackend) talks to it in JSON lines:

  stdin:  {"op": "run", "run": RUN_DIR, "resume": false}   train RUN_DIR (an absolute path)
          {"op": "stop", "run": RUN_DIR}                    stop that trial at a batch boundary
  stdout: {"run": RUN_DIR, "code": 0}                       the trial ended with this exit status

Each trial's output (prints, tracebacks) goes to its run's worker.log; the worker's own goes
to its stderr. It ends when stdin closes (the coordinator is done, or gone), on SIGINT,
SIGTERM or SIGHUP, or when its supervisor is gone: the running trial stops at a batch
boundary first (killed after the grace time if it cannot).
"""
from __future__ import annotations

import json
import os
import queue
import signal
import sys
import threading

from engine.processes.supervisor import STOP_SIGNALS, watch_supervisor
from engine.processes.trial_host import TrialHost


class Inbox:
    """Reads the coordinator's requests on a thread, so a stop arrives while a trial trains."""

    def __init__(self, stream):
        self.stream, self.runs = stream, queue.Queue()
        self.stopped: set[str] = set()
        self.quitting = threading.Event()
        threading.Thread(target=self._read, name="inbox", daemon=True).start()

    def _read(self) -> None:
        for line in self.stream:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if not isinstance(msg, dict):
                continue
            if msg.get("op") == "stop":
                self.stopped.add(str(msg.get("run")))
            elif msg.get("op") == "run":
                self.runs.put(msg)
        self.quit()  # stdin closed: the coordinator is done with us, or gone

    def quit(self, *args) -> None:
        self.quitting.set()
        self.runs.put(None)

    def should_stop(self, run: str):
        return lambda: self.quitting.is_set() or run in self.stopped


def serve(inbox: Inbox, answer, host: TrialHost | None = None) -> None:
    host = host or TrialHost()
    while True:
        msg = inbox.runs.get()  # a request sent before a quit still runs: it stops at its first batch
        if msg is None:
            return
        run = str(msg["run"])
        if not os.path.isabs(run):
            answer({"run": run, "code": 2, "error": "RUN_DIR must be an absolute path"})
            continue
        answer({"run": run, "code": host.run_logged(run, bool(msg.get("resume")), inbox.should_stop(run))})


def main(argv: list[str]) -> int:
    supervisor = int(argv[1]) if len(argv) == 2 and argv[0] == "--supervisor" and argv[1].isdigit() else None
    out = os.fdopen(os.dup(1), "w", buffering=1)  # answers only; stray prints join stderr
    os.dup2(2, 1)
    lock = threading.Lock()

    def answer(msg: dict) -> None:
        with lock:
            out.write(json.dumps(msg) + "\n")
            out.flush()

    inbox = Inbox(sys.stdin)
    for sig in STOP_SIGNALS:
        signal.signal(sig, inbox.quit)
    if supervisor:
        watch_supervisor(supervisor, lambda: False, inbox.quit)
    serve(inbox, answer)
    return 0


if __name__ == "__main__":
    from engine.processes.worker import quiet_waits
    quiet_waits()
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip torch's teardown, as the one-run worker does
