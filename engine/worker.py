"""The training process: `python -m engine.worker RUN_DIR [--resume]`.

It reads RUN_DIR/config.yaml, trains, and appends events to RUN_DIR/events.jsonl.
SIGINT/SIGTERM stop it cleanly at the next batch boundary (best checkpoint kept).
Exit status: 0 finished or stopped, 1 training failed, 2 bad input (config/data).
"""
from __future__ import annotations

import signal
import subprocess
import sys
import traceback
from pathlib import Path

from .errors import InputError
from .runs import RunDir

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2


def spawn(run_dir: str | Path, resume: bool = False, env: dict | None = None) -> subprocess.Popen:
    """Start a worker in a fresh interpreter and session (never a fork of the caller),
    stdin closed, output to the run's worker.log."""
    run = RunDir(Path(run_dir).resolve())  # its cwd is not the caller's: only absolute paths travel
    log = open(run.log_file, "ab")
    cmd = [sys.executable, "-m", "engine.worker", str(run.path)] + (["--resume"] if resume else [])
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=str(Path(__file__).resolve().parent.parent),
                                env=env)
    finally:
        log.close()


def run(run_dir: str | Path, resume: bool = False) -> int:
    run = RunDir(run_dir)
    stop = {"asked": False}

    def ask_stop(signum, frame):
        stop["asked"] = True

    signal.signal(signal.SIGINT, ask_stop)
    signal.signal(signal.SIGTERM, ask_stop)

    def fail(reason: str, kind: str, code: int) -> int:
        ev = run.event("failed", reason=reason, kind=kind)
        prev = run.summary() or {}
        run.write_summary({**{k: prev.get(k) for k in ("best_epoch", "epochs_run", "valid", "test")},
                           "status": "failed", "reason": reason, "kind": kind, "time": ev["time"]})
        return code

    try:
        from . import config, data
        cfg = config.resolve(run.config())
        ds = data.load(cfg)
        if not resume:
            from . import tokens
            tokens.write(run.tokens_file, ds)
        from .trainer import TrainingFailed, fit_into
        try:
            fit_into(run, cfg, ds, lambda: stop["asked"], resume=resume)
            return EXIT_OK
        except TrainingFailed as exc:
            return fail(str(exc), "training", EXIT_FAILED)
    except InputError as exc:
        return fail(str(exc), "input", EXIT_INPUT)
    except Exception as exc:  # a crash: keep the reason in events, the traceback in worker.log
        traceback.print_exc()
        return fail(f"{exc.__class__.__name__}: {exc}", "crash", EXIT_FAILED)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-"):
        print("usage: python -m engine.worker RUN_DIR [--resume]", file=sys.stderr)
        return EXIT_INPUT
    if not Path(argv[0]).is_absolute():  # its working directory is not the caller's
        print(f"engine.worker: RUN_DIR must be an absolute path, got {argv[0]}", file=sys.stderr)
        return EXIT_INPUT
    return run(argv[0], resume="--resume" in argv[1:])


if __name__ == "__main__":
    sys.exit(main())
