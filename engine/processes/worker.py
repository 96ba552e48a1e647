"""The training process: `python -m engine.processes.worker RUN_DIR [--resume] [--supervisor PID]`.

It reads RUN_DIR/config.yaml, trains, and appends events to RUN_DIR/events.jsonl.
SIGINT, SIGTERM and SIGHUP stop it cleanly at the next batch boundary (best checkpoint
kept). With --supervisor it also stops when that process (its parent) is gone, unless the
run was detached (engine.processes.supervisor). Exit status: 0 finished or stopped, 1 training
failed or crashed (the traceback is in worker.log), 2 bad input (config, data, memory).
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from engine.errors import ExitCode, os_errors
from engine.records.runs import RUNS_FIX, RunDir
from engine.processes.supervisor import STOP_SIGNALS, watch_supervisor


def spawn(run_dir: str | Path, resume: bool = False, env: dict | None = None,
          supervised: bool = True) -> subprocess.Popen:
    """Start a worker in a fresh interpreter and session (never a fork of the caller),
    stdin closed, output to the run's worker.log, its pid recorded in worker.json. A
    supervised worker stops when this process is gone."""
    run = RunDir(Path(run_dir).resolve())  # its cwd is not the caller's: only absolute paths travel
    cmd = [sys.executable, "-m", "engine.processes.worker", str(run.path)] + (["--resume"] if resume else [])
    if supervised:
        cmd += ["--supervisor", str(os.getpid())]
    with os_errors("runs dir", run.path, RUNS_FIX):
        log = open(run.log_file, "ab")
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=str(Path(__file__).resolve().parent.parent),
                                env=env)
    finally:
        log.close()
    run.record_worker(proc.pid, os.getpid() if supervised else None)
    return proc


def run(run_dir: str | Path, resume: bool = False, supervisor: int | None = None) -> int:
    run = RunDir(run_dir)
    stop = {"asked": False}

    def ask_stop(signum=None, frame=None):
        stop["asked"] = True

    for sig in STOP_SIGNALS:
        signal.signal(sig, ask_stop)
    rec = run.worker()
    if rec is None or rec["pid"] != os.getpid():  # started by hand, not through spawn
        with contextlib.suppress(OSError):  # a read-only run dir fails below, with a message
            run.record_worker(os.getpid(), supervisor)
    if supervisor:
        watch_supervisor(supervisor, lambda: (run.worker() or {}).get("supervisor") is None, ask_stop)

    from engine.processes.trial_host import TrialHost
    return TrialHost().run(run.path, resume, lambda: stop["asked"])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-"):
        print("usage: python -m engine.processes.worker RUN_DIR [--resume] [--supervisor PID]", file=sys.stderr)
        return ExitCode.INPUT
    if not Path(argv[0]).is_absolute():  # its working directory is not the caller's
        print(f"engine.processes.worker: RUN_DIR must be an absolute path, got {argv[0]}", file=sys.stderr)
        return ExitCode.INPUT
    supervisor = None
    if "--supervisor" in argv[1:]:
        at = argv.index("--supervisor", 1)
        supervisor = int(argv[at + 1]) if at + 1 < len(argv) and argv[at + 1].isdigit() else None
    return run(argv[0], resume="--resume" in argv[1:], supervisor=supervisor)


def quiet_waits() -> None:
    """OpenMP threads that finish a kernel early sleep instead of spinning (unless the user
    chose): on a machine shared with other programs, spinning threads take the cores the
    late ones need, and every kernel waits for its slowest thread (epochs 2-4x slower under
    load here; a few microseconds per kernel when the machine is idle). Must run before
    torch is imported."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


if __name__ == "__main__":
    quiet_waits()
    code = main()
    # Every file is written and closed by now; skip the interpreter's teardown of torch
    # (half a second of every run's exit here).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
