"""`diffrec-tui`: the app (interactive) and the headless commands.

Exit status: 0 finished, 1 training failed, 2 bad config/data/arguments, 130 interrupted.
Never imports torch: training runs in a spawned worker process.
"""
from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine import config as config_mod
from engine.errors import InputError
from engine.runs import EventFollower, RunDir, runs_root

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "configs" / "default.yaml"
STOP_GRACE_SECONDS = 30.0


class UsageError(InputError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        raise UsageError(f"diffrec-tui: {message} (see diffrec-tui --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="diffrec-tui", description="Terminal experiment explorer for DiffRec diffusion recommenders.")
    p.add_argument("config", nargs="?", help="config YAML to open in the app (default: configs/default.yaml)")
    p.add_argument("--run", metavar="CONFIG", help="train headless with this config")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped or failed run headless")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable), e.g. --set steps=40 --set dims_dnn=[200,600]")
    p.add_argument("--runs-dir", metavar="DIR", help="where runs are recorded (default ./runs or $DIFFREC_RUNS_DIR)")
    p.add_argument("--device", metavar="D", help="auto, cpu, cuda, cuda:N or mps (same as --set device=D)")
    g = p.add_argument_group("baselines")
    g.add_argument("--compare", metavar="CONFIG", help="run several models on CONFIG's dataset, print one table")
    g.add_argument("--models", metavar="LIST", help="comma-separated models for --compare")
    g = p.add_argument_group("tuning")
    g.add_argument("--tune", metavar="HYPER_FILE", help="hyper-parameter search (RecBole hyper.test format)")
    g.add_argument("--config", dest="base_config", metavar="CONFIG", help="base config for --tune")
    g.add_argument("--trials", type=int, metavar="N", help="random search with N trials")
    g.add_argument("--workers", type=int, metavar="N", help="trials run in parallel")
    g = p.add_argument_group("inspection")
    g.add_argument("--inspect", metavar="RUN_DIR", help="print one user's top-K from a finished run")
    g.add_argument("--user", type=int, metavar="ID", help="user id for --inspect")
    g.add_argument("--topk", type=int, metavar="K", help="K for --inspect / --export-recs (default 20)")
    g.add_argument("--json", action="store_true", help="--inspect prints JSON")
    g.add_argument("--export-recs", nargs=2, metavar=("RUN_DIR", "OUT_CSV"), help="write every user's top-K to CSV")
    return p


# Headless commands beyond --run live in their own modules: name -> (module, function).
COMMANDS = {"compare": ("compare", "main"), "tune": ("tune", "main"),
            "inspect": ("inspect_cmd", "main"), "export_recs": ("inspect_cmd", "export_main")}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
        for flag, (module, func) in COMMANDS.items():
            if getattr(args, flag):
                return _dispatch(module, func, args)
        if args.resume and (Path(args.resume) / "sweep.yaml").is_file():  # a sweep, not a run
            return _dispatch("tune", "main", args)
        if args.run:
            return run_headless(args)
        if args.resume:
            return resume_headless(args)
        return open_app(args)
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:  # output piped into `head` and closed: not an error of ours
        sys.stderr.close()
        return EXIT_OK


def _dispatch(module: str, func: str, args) -> int:
    import importlib
    try:
        mod = importlib.import_module(f"diffrec_tui.{module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"diffrec_tui.{module}":
            raise
        raise UsageError("diffrec-tui: this command is not available in this version") from None
    return getattr(mod, func)(args)


def load_config(path: str, args) -> dict:
    overrides = list(args.overrides)
    if args.device:
        overrides.append(f"device={args.device}")
    return config_mod.load(path, overrides)


def open_app(args) -> int:
    path = Path(args.config) if args.config else DEFAULT_CONFIG
    cfg = load_config(str(path), args)
    try:
        from .app import DiffRecApp
    except ImportError:
        print("diffrec-tui: the interactive app is not built yet; use diffrec-tui --run CONFIG", file=sys.stderr)
        return EXIT_INPUT
    DiffRecApp(config=cfg, config_path=path, runs_dir=runs_root(args.runs_dir)).run()
    return EXIT_OK


def run_headless(args) -> int:
    cfg = load_config(args.run, args)
    run = RunDir.create(runs_root(args.runs_dir), cfg)
    return watch(run, resume=False)


def resume_headless(args) -> int:
    run = RunDir(args.resume)
    if not run.config_file.is_file():
        raise InputError(f"--resume: {run.path} is not a run directory (no config.yaml)")
    if not run.resume_file.is_file():
        raise InputError(f"--resume: {run.path} has no resume.pt (it never reached an evaluation); start a new run")
    config_mod.resolve(run.config())
    return watch(run, resume=True)


def watch(run: RunDir, resume: bool) -> int:
    """Spawn the worker for `run`, show its events until it ends, map its outcome to an exit code."""
    from engine.worker import spawn

    offset = run.events_file.stat().st_size if run.events_file.exists() else 0
    follower = EventFollower(run.events_file, offset)
    proc = spawn(run.path, resume=resume)
    view = make_view(sys.stdout.isatty())
    interrupted_at: float | None = None
    last = None

    def on_sigint(signum, frame):
        nonlocal interrupted_at
        interrupted_at = interrupted_at or time.monotonic()
        proc.send_signal(signal.SIGINT)

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        with view:
            while True:
                for ev in follower.poll():
                    view.show(ev)
                    last = ev
                if proc.poll() is not None:
                    for ev in follower.poll():
                        view.show(ev)
                        last = ev
                    break
                try:
                    proc.wait(timeout=0.1)  # returns as soon as the worker exits
                except subprocess.TimeoutExpired:
                    pass
                if interrupted_at and time.monotonic() - interrupted_at > STOP_GRACE_SECONDS:
                    proc.kill()  # the worker did not reach a batch boundary in time
    finally:
        signal.signal(signal.SIGINT, old)
    return report(run, last, proc.returncode, interrupted_at is not None)


def report(run: RunDir, last: dict | None, code: int, interrupted: bool) -> int:
    from .report import print_peers, print_summary

    status = last["type"] if last else None
    if status == "failed":
        if last.get("kind") == "input":  # the one-line message says what to fix
            print(last.get("reason"), file=sys.stderr)
            return EXIT_INPUT
        print(f"diffrec-tui: run failed: {last.get('reason')} (run directory: {run.path})", file=sys.stderr)
        return EXIT_FAILED
    if status not in ("finished", "stopped"):
        print(f"diffrec-tui: the worker ended without a result (exit {code}); see {run.log_file}", file=sys.stderr)
        return EXIT_INTERRUPTED if interrupted else EXIT_FAILED
    print_summary(run, last)
    print_peers(run)
    return EXIT_INTERRUPTED if status == "stopped" or interrupted else EXIT_OK


def make_view(tty: bool):
    from .report import PlainView, RichView
    return RichView() if tty else PlainView()


if __name__ == "__main__":
    sys.exit(main())
