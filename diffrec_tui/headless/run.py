"""`--run CONFIG` and `--resume RUN_DIR`: train in a worker process and follow it, headless.

Exit status (ExitCode): 0 finished, 1 training failed, 2 bad config/data/arguments, 130
interrupted (Ctrl-C), 143 terminated (SIGTERM), 129 hung up (SIGHUP): the worker is stopped at
a batch boundary first, and killed if it has not stopped after the grace time.
"""
from __future__ import annotations

import sys

from engine.config import schema as config_mod
from engine.errors import InputError
from engine.errors import ExitCode
from engine.processes.supervisor import Supervision
from engine.records.runs import RunDir, discard_unstarted, runs_root

from diffrec_tui.headless.configs import load_config


def run_headless(args) -> int:
    from engine.data.layout import locate
    cfg = load_config(args.run, args)
    locate(cfg)  # a wrong data path is an error now, before a run directory exists
    run = RunDir.create(runs_root(args.runs_dir, cfg), cfg)
    return watch(run, resume=False, progress=cfg["show_progress"])


def resume_headless(args) -> int:
    run = RunDir(args.resume)
    if not run.exists():
        raise InputError(f"--resume: {run.path} is not a run directory (no {run.config_file.name})")
    if not run.resume_file.is_file():
        raise InputError(f"--resume: {run.path} has no {run.resume_file.name} (it never reached an evaluation); "
                         "start a new run")
    if run.worker_alive():
        rec = run.worker()
        raise InputError(f"--resume: {run.path} is still running (worker pid {rec['pid']} on {rec.get('host')}); "
                         f"stop it first, or follow it in the app (if it is not, delete {run.worker_file})")
    cfg = config_mod.resolve(run.config())
    return watch(run, resume=True, progress=cfg["show_progress"])


def watch(run: RunDir, resume: bool, progress: bool = True) -> int:
    """Run the worker for `run` (engine.processes.supervisor.Supervision), show its events
    until it ends, map its outcome to an exit code."""
    offset = run.events_file.stat().st_size if run.events_file.exists() else 0
    view = make_view(sys.stdout.isatty() and progress, run_keys(run))
    supervision = Supervision()
    with supervision.signals, view:
        last, code = supervision.run(run, view.show, resume=resume, offset=offset)
    return report(run, last, code, supervision.signals.exit_status, resume)


def report(run: RunDir, last: dict | None, code: int, signalled: int | None = None, resume: bool = False) -> int:
    """Print the outcome; the exit status (128 + the signal that ended us, when one did)."""
    from diffrec_tui.headless.report import print_peers, print_summary

    status = last["type"] if last else None
    if status == "failed":
        if last.get("kind") == "input":  # the one-line message says what to fix
            print(last.get("reason"), file=sys.stderr)
            if not resume:
                discard_unstarted(run)  # it never trained: no failed run folder is left behind
            return ExitCode.INPUT
        where = f"the traceback is in {run.log_file}" if last.get("kind") == "crash" else f"run directory: {run.path}"
        print(f"diffrec-tui: run failed: {last.get('reason')} ({where})", file=sys.stderr)
        return ExitCode.FAILED
    if status not in ("finished", "stopped"):
        run.record_exit(code)
        print(f"diffrec-tui: run dead: {run.gone_reason(code)}; diffrec-tui --resume {run.path} continues "
              "from its last evaluation", file=sys.stderr)
        return signalled or ExitCode.FAILED
    print_summary(run, last, keys=run_keys(run))
    print_peers(run)
    if signalled:
        return signalled
    return ExitCode.INTERRUPTED if status == "stopped" else ExitCode.OK


def make_view(tty: bool, keys=None):
    from diffrec_tui.text import HEADLINE_KEYS
    from diffrec_tui.headless.report import PlainView, RichView
    return RichView(keys or HEADLINE_KEYS) if tty else PlainView(keys or HEADLINE_KEYS)


def run_keys(run: RunDir) -> tuple[str, ...]:
    """The metrics the run's config names (valid_metric, topk) for its lines and table."""
    from diffrec_tui.text import headline_keys
    try:
        return headline_keys(run.config())
    except InputError:  # a damaged config file: the usual headline
        return headline_keys(None)
