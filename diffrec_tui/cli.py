"""`diffrec-tui`: the app (interactive) and the headless commands.

Exit status: 0 finished, 1 training failed, 2 bad config/data/arguments, 130 interrupted.
Never imports torch: training runs in a spawned worker process.
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from engine import config as config_mod
from engine.errors import InputError
from engine.runs import EventFollower, RunDir, discard_unstarted, runs_root

from . import shipped

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
STOP_GRACE_SECONDS = 30.0
# Flags that name a path, resolved against the caller's working directory once, here: the
# worker and the sweep coordinator run elsewhere and only ever see absolute paths.
PATH_FLAGS = ("resume", "runs_dir", "tune", "inspect", "export_recs", "export_tensorboard")
CONFIG_FLAGS = ("config", "run", "base_config", "compare")  # may name a shipped config instead


class UsageError(InputError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        raise UsageError(f"diffrec-tui: {message} (see diffrec-tui --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="diffrec-tui", description="Terminal experiment explorer for DiffRec diffusion recommenders.")
    p.add_argument("config", nargs="?", help="config YAML to open in the app (default: the shipped default.yaml); "
                                             "a shipped config's name works from any folder (--configs lists them)")
    p.add_argument("--configs", action="store_true", help="list the ready configs shipped with diffrec-tui")
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
    g.add_argument("--user", metavar="ID", help="user for --inspect: the dataset's own id (dense ids for npy data)")
    g.add_argument("--topk", type=int, metavar="K", help="K for --inspect / --export-recs (default 20)")
    g.add_argument("--json", action="store_true", help="--inspect prints JSON")
    g.add_argument("--export-recs", nargs=2, metavar=("RUN_DIR", "OUT_CSV"), help="write every user's top-K to CSV")
    g.add_argument("--export-tensorboard", nargs=2, metavar=("RUN_OR_RUNS_DIR", "LOGDIR"),
                   help="write runs' loss and metric curves as TensorBoard scalars (extra: diffrec-tui[tensorboard])")
    return p


# Headless commands beyond --run live in their own modules: name -> (module, function).
COMMANDS = {"configs": ("shipped", "main"), "compare": ("compare", "main"), "tune": ("tune", "main"),
            "inspect": ("inspect_cmd", "main"), "export_recs": ("inspect_cmd", "export_main"),
            "export_tensorboard": ("tensorboard_cmd", "main")}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = absolute_paths(build_parser().parse_args(argv))
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


def absolute_paths(args):
    """Every path flag made absolute against the current directory (config flags may also
    name a shipped config)."""
    for flag in PATH_FLAGS:
        value = getattr(args, flag, None)
        if isinstance(value, list):
            setattr(args, flag, [str(Path(v).expanduser().resolve()) for v in value])
        elif value:
            setattr(args, flag, str(Path(value).expanduser().resolve()))
    for flag in CONFIG_FLAGS:
        if getattr(args, flag, None):
            setattr(args, flag, str(shipped.resolve(getattr(args, flag))))
    return args


def _dispatch(module: str, func: str, args) -> int:
    import importlib
    try:
        mod = importlib.import_module(f"diffrec_tui.{module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"diffrec_tui.{module}":
            raise
        raise UsageError("diffrec-tui: this command is not available in this version") from None
    return getattr(mod, func)(args)


def load_config(path: str, args, show_note: bool = True) -> dict:
    """The resolved config of a file plus --set/--device; prints its note lines (the RecBole
    keys it ignores, how RecBole's files are read)."""
    overrides = list(args.overrides)
    if args.device:
        overrides.append(f"device={args.device}")
    cfg, note = config_mod.load_with_note(path, overrides)
    if note and show_note:
        print(note, flush=True)
    return cfg


def open_app(args) -> int:
    path = Path(args.config) if args.config else shipped.default()
    overrides = list(args.overrides) + ([f"device={args.device}"] if args.device else [])
    cfg, note = config_mod.load_with_note(path, overrides)
    try:
        from .app import DiffRecApp
    except ImportError:
        print("diffrec-tui: the interactive app is not built yet; use diffrec-tui --run CONFIG", file=sys.stderr)
        return EXIT_INPUT
    DiffRecApp(config=cfg, config_path=path, runs_dir=runs_root(args.runs_dir, cfg), note=note,
               runs_dir_fixed=bool(args.runs_dir)).run()
    return EXIT_OK


def run_headless(args) -> int:
    from engine.layout import locate
    cfg = load_config(args.run, args)
    locate(cfg)  # a wrong data path is an error now, before a run directory exists
    run = RunDir.create(runs_root(args.runs_dir, cfg), cfg)
    return watch(run, resume=False, progress=cfg["show_progress"])


def resume_headless(args) -> int:
    run = RunDir(args.resume)
    if not run.config_file.is_file():
        raise InputError(f"--resume: {run.path} is not a run directory (no config.yaml)")
    if not run.resume_file.is_file():
        raise InputError(f"--resume: {run.path} has no resume.pt (it never reached an evaluation); start a new run")
    cfg = config_mod.resolve(run.config())
    return watch(run, resume=True, progress=cfg["show_progress"])


def watch(run: RunDir, resume: bool, progress: bool = True) -> int:
    """Spawn the worker for `run`, show its events until it ends, map its outcome to an exit code."""
    from engine.worker import spawn

    offset = run.events_file.stat().st_size if run.events_file.exists() else 0
    follower = EventFollower(run.events_file, offset)
    proc = spawn(run.path, resume=resume)
    view = make_view(sys.stdout.isatty() and progress, run_keys(run))
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
                time.sleep(0.1)
                if interrupted_at and time.monotonic() - interrupted_at > STOP_GRACE_SECONDS:
                    proc.kill()  # the worker did not reach a batch boundary in time
    finally:
        signal.signal(signal.SIGINT, old)
    return report(run, last, proc.returncode, interrupted_at is not None, resume)


def report(run: RunDir, last: dict | None, code: int, interrupted: bool, resume: bool = False) -> int:
    from .report import print_peers, print_summary

    status = last["type"] if last else None
    if status == "failed":
        if last.get("kind") == "input":  # the one-line message says what to fix
            print(last.get("reason"), file=sys.stderr)
            if not resume:
                discard_unstarted(run)  # it never trained: no failed run folder is left behind
            return EXIT_INPUT
        print(f"diffrec-tui: run failed: {last.get('reason')} (run directory: {run.path})", file=sys.stderr)
        return EXIT_FAILED
    if status not in ("finished", "stopped"):
        print(f"diffrec-tui: the worker ended without a result (exit {code}); see {run.log_file}", file=sys.stderr)
        return EXIT_INTERRUPTED if interrupted else EXIT_FAILED
    print_summary(run, last, keys=run_keys(run))
    print_peers(run)
    return EXIT_INTERRUPTED if status == "stopped" or interrupted else EXIT_OK


def make_view(tty: bool, keys=None):
    from .report import HEADLINE_KEYS, PlainView, RichView
    return RichView(keys or HEADLINE_KEYS) if tty else PlainView(keys or HEADLINE_KEYS)


def run_keys(run: RunDir) -> tuple[str, ...]:
    """The metrics the run's config names (valid_metric, topk) for its lines and table."""
    from .report import headline_keys
    try:
        return headline_keys(run.config())
    except InputError:  # a damaged config.yaml: the usual headline
        return headline_keys(None)


if __name__ == "__main__":
    sys.exit(main())
