"""`diffrec-tui`: the app (interactive) and the headless commands.

Exit status: 0 finished, 1 training failed, 2 bad config/data/arguments, 130 interrupted
(Ctrl-C), 143 terminated (SIGTERM), 129 hung up (SIGHUP): the worker is stopped at a batch
boundary first, and killed if it has not stopped after the grace time.
Never imports torch: training runs in a spawned worker process.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import traceback
from pathlib import Path

from engine import config as config_mod
from engine.errors import InputError, classify
from engine.runs import EventFollower, RunDir, discard_unstarted, runs_root
from engine.supervisor import STOP_GRACE_SECONDS, Child, Signals

from . import shipped

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
DEBUG_ENV = "DIFFREC_DEBUG"  # set: an internal error also prints its traceback
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
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped or failed run (or sweep) headless; "
                   "a run's name is looked up in the runs directory")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable), e.g. --set steps=40 --set dims_dnn=[200,600]")
    p.add_argument("--runs-dir", metavar="DIR", help="where runs are recorded (default ./runs or $DIFFREC_RUNS_DIR)")
    p.add_argument("--device", metavar="D", help="auto, cpu, cuda, cuda:N or mps (same as --set device=D)")
    g = p.add_argument_group("browser")
    g.add_argument("--serve", action="store_true", help="serve the app in a browser (extra: diffrec-tui[serve])")
    g.add_argument("--port", type=int, metavar="N", help="port for --serve (default 8000)")
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
            "export_tensorboard": ("tensorboard_cmd", "main"), "serve": ("serve_cmd", "main")}

# The options each command reads (argparse dest names). Any other option given is refused:
# a flag that would be silently ignored is a mistake the user should hear about.
OPTIONS = {
    "app": {"config", "overrides", "runs_dir", "device"},
    "run": {"run", "overrides", "runs_dir", "device"},
    "resume": {"resume", "runs_dir"},  # --runs-dir: where to find RUN_DIR given as a run's name
    "resume_sweep": {"resume", "runs_dir", "tune", "base_config", "overrides", "device", "trials", "workers"},
    "compare": {"compare", "models", "overrides", "runs_dir", "device"},
    "tune": {"tune", "base_config", "trials", "workers", "overrides", "runs_dir", "device", "resume"},
    "inspect": {"inspect", "user", "topk", "json"},
    "export_recs": {"export_recs", "topk"},
    "export_tensorboard": {"export_tensorboard"},
    "configs": {"configs"},
    "serve": {"serve", "port", "config", "overrides", "runs_dir", "device"},
}
FLAGS = {"config": "CONFIG (the app's config)", "overrides": "--set", "runs_dir": "--runs-dir",
         "base_config": "--config", "export_recs": "--export-recs"}
LIMITS = {"trials": 1_000_000, "workers": 1024, "topk": config_mod.MAX_TOPK}  # (the commands check the lower bounds)


def flag(dest: str) -> str:
    return FLAGS.get(dest, "--" + dest.replace("_", "-"))


def command_of(args) -> str:
    """The one command the arguments ask for, checked against OPTIONS (UsageError if not)."""
    given = [c for c in OPTIONS if c not in ("app", "resume_sweep") and getattr(args, c)]
    if "tune" in given and "resume" in given:
        given.remove("resume")  # --tune FILE --resume SWEEP: resume, checking FILE is the sweep's
    if len(given) > 1:
        raise UsageError(f"diffrec-tui: {flag(given[0])} and {flag(given[1])} are separate commands; give one of them")
    cmd = given[0] if given else "app"
    if args.resume and not Path(args.resume).exists() and (runs_root(args.runs_dir) / args.resume).is_dir():
        args.resume = str(runs_root(args.runs_dir) / args.resume)  # a run's name: the folder under the runs dir
    if cmd == "resume" and (Path(args.resume) / "sweep.yaml").is_file():
        cmd = "resume_sweep"
    for dest, value in vars(args).items():
        if value not in (None, False, []) and dest not in OPTIONS[cmd]:
            users = [flag(c) for c, opts in OPTIONS.items() if dest in opts and c not in ("app", "resume_sweep")]
            what = "the app" if cmd == "app" else flag(cmd.replace("_sweep", ""))
            raise UsageError(f"diffrec-tui: {flag(dest)} does not go with {what}"
                             + (f"; it belongs to {' or '.join(users)}" if users else ""))
    for dest, most in LIMITS.items():
        value = getattr(args, dest)
        if isinstance(value, int) and value > most:
            raise UsageError(f"diffrec-tui: {flag(dest)} {value} is more than {most}; give a smaller number")
    return cmd


def main(argv: list[str] | None = None) -> int:
    """The error boundary of every headless command and the app: bad input is one line on
    stderr and exit 2; a bug is one line and exit 1 (DIFFREC_DEBUG=1 adds the traceback)."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
        cmd = command_of(args)
        args = absolute_paths(args)
        if cmd in COMMANDS:
            return _dispatch(*COMMANDS[cmd], args)
        if cmd == "resume_sweep":
            return _dispatch("tune", "main", args)
        return {"run": run_headless, "resume": resume_headless, "app": open_app}[cmd](args)
    except BrokenPipeError:  # output piped into `head` and closed: not an error of ours
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:  # Ctrl-C in a command without a worker (e.g. --inspect)
        print("diffrec-tui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        message, code, kind = classify(exc)
        if kind == "crash":
            if os.environ.get(DEBUG_ENV):
                traceback.print_exc()
            message = f"diffrec-tui: internal error: {message} (a bug; {DEBUG_ENV}=1 shows the traceback)"
        print(message, file=sys.stderr)
        return code


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
    from .app import DiffRecApp
    from .state import Draft
    draft = Draft()
    draft.load(path, overrides)  # bad values open too, shown inline; a malformed file stops here (exit 2)
    cfg = draft.resolved(unknown_ok=True) if not draft.problems else config_mod.defaults()
    app = DiffRecApp(draft=draft, runs_dir=runs_root(args.runs_dir, cfg), runs_dir_fixed=bool(args.runs_dir))
    app.run()
    return app.return_code or EXIT_OK


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
    if run.worker_alive():
        rec = run.worker()
        raise InputError(f"--resume: {run.path} is still running (worker pid {rec['pid']} on {rec.get('host')}); "
                         f"stop it first, or follow it in the app (if it is not, delete {run.worker_file})")
    cfg = config_mod.resolve(run.config())
    return watch(run, resume=True, progress=cfg["show_progress"])


def watch(run: RunDir, resume: bool, progress: bool = True) -> int:
    """Spawn the worker for `run`, show its events until it ends, map its outcome to an exit
    code. SIGINT, SIGTERM and SIGHUP are passed on to the worker (it stops at a batch
    boundary); a second one, or the grace time running out, kills it."""
    from engine.worker import spawn

    offset = run.events_file.stat().st_size if run.events_file.exists() else 0
    follower = EventFollower(run.events_file, offset)
    view = make_view(sys.stdout.isatty() and progress, run_keys(run))
    child: Child | None = None
    last = None

    def on_signal(signum):
        if child is not None:
            child.stop(signum)

    with Signals(on_signal) as signals:
        child = Child(spawn(run.path, resume=resume))
        if signals.received:  # arrived while the worker was being spawned
            child.stop(signals.first)
        with view:
            while True:
                done = child.poll() is not None
                for ev in follower.poll():
                    view.show(ev)
                    last = ev
                if done:
                    break
                try:
                    child.proc.wait(timeout=0.1)  # returns as soon as the worker exits
                except subprocess.TimeoutExpired:
                    pass
                child.enforce(0.0 if len(signals.received) > 1 else STOP_GRACE_SECONDS)
    return report(run, last, child.returncode, signals.exit_status, resume)


def report(run: RunDir, last: dict | None, code: int, signalled: int | None = None, resume: bool = False) -> int:
    """Print the outcome; the exit status (128 + the signal that ended us, when one did)."""
    from .report import print_peers, print_summary

    status = last["type"] if last else None
    if status == "failed":
        if last.get("kind") == "input":  # the one-line message says what to fix
            print(last.get("reason"), file=sys.stderr)
            if not resume:
                discard_unstarted(run)  # it never trained: no failed run folder is left behind
            return EXIT_INPUT
        where = f"the traceback is in {run.log_file}" if last.get("kind") == "crash" else f"run directory: {run.path}"
        print(f"diffrec-tui: run failed: {last.get('reason')} ({where})", file=sys.stderr)
        return EXIT_FAILED
    if status not in ("finished", "stopped"):
        run.record_exit(code)
        print(f"diffrec-tui: run dead: {run.gone_reason(code)}; diffrec-tui --resume {run.path} continues "
              "from its last evaluation", file=sys.stderr)
        return signalled or EXIT_FAILED
    print_summary(run, last, keys=run_keys(run))
    print_peers(run)
    if signalled:
        return signalled
    return EXIT_INTERRUPTED if status == "stopped" else EXIT_OK


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
