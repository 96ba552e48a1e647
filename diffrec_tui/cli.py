"""`diffrec-tui`: parse the arguments, check which command they ask for, and dispatch to the
app or to a headless command (diffrec_tui.headless) through one table of functions.

Exit status: engine.errors.ExitCode (0 finished, 1 training failed, 2 bad
config/data/arguments, 130/143/129 interrupted by SIGINT/SIGTERM/SIGHUP).
Never imports torch: training runs in a spawned worker process.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from engine.config import fields as config_fields
from engine.config import schema as config_schema
from engine.errors import InputError, classify
from engine.records.runs import runs_root
from engine.errors import ExitCode
from engine.records.sweeps import SweepDir
from engine.processes.backends import BACKENDS
from engine.search.pruning import PRUNERS
from engine.search.space import SEARCHES

from diffrec_tui import shipped

DEBUG_ENV = "DIFFREC_DEBUG"  # set: an internal error also prints its traceback
# Flags that name a path, resolved against the caller's working directory once, here: the
# worker and the sweep coordinator run elsewhere and only ever see absolute paths.
PATH_FLAGS = ("resume", "runs_dir", "tune", "inspect", "export_recs", "export_tensorboard", "significance")
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
    p.add_argument("--seeds", metavar="LIST", help="--run / --compare once per seed (e.g. 1,2,3 or 1-5): "
                   "a group directory, mean ± sample SD")
    g = p.add_argument_group("browser")
    g.add_argument("--serve", action="store_true", help="serve the app in a browser (extra: diffrec-tui[serve])")
    g.add_argument("--port", type=int, metavar="N", help="port for --serve (default 8000)")
    g = p.add_argument_group("baselines")
    g.add_argument("--compare", metavar="CONFIG", help="run several models on CONFIG's dataset, print one table")
    g.add_argument("--models", metavar="LIST", help="comma-separated models for --compare")
    g.add_argument("--significance", nargs=2, metavar=("RUN_A", "RUN_B"),
                   help="paired per-user tests of two runs or seed groups on one split")
    g = p.add_argument_group("tuning")
    g.add_argument("--tune", metavar="HYPER_FILE", help="hyper-parameter search (RecBole hyper.test format)")
    g.add_argument("--config", dest="base_config", metavar="CONFIG", help="base config for --tune")
    g.add_argument("--trials", type=int, metavar="N", help="random (or bayes) search with N trials")
    g.add_argument("--search", choices=SEARCHES,
                   help="grid (default for all-choice lines), random (default with --trials) or bayes (Optuna TPE)")
    g.add_argument("--prune", choices=PRUNERS,
                   help="stop trials early whose validation metric is in the bottom share at an evaluation (default none)")
    g.add_argument("--workers", type=int, metavar="N", help="trials run in parallel")
    g.add_argument("--backend", choices=BACKENDS,
                   help="where trials run: local long-lived workers (default), process (one interpreter "
                        "per trial) or ray (extra: diffrec-tui[ray])")
    g.add_argument("--address", metavar="ADDR", help="--backend ray: the cluster to join (default: a local Ray)")
    g.add_argument("--cpus-per-trial", type=float, metavar="N", help="--backend ray: CPUs per trial (default 1)")
    g.add_argument("--gpus-per-trial", type=float, metavar="N", help="--backend ray: GPUs per trial (default 0)")
    g = p.add_argument_group("inspection")
    g.add_argument("--inspect", metavar="RUN_DIR", help="print one user's top-K from a finished run")
    g.add_argument("--user", metavar="ID", help="user for --inspect: the dataset's own id (dense ids for npy data)")
    g.add_argument("--topk", type=int, metavar="K", help="K for --inspect / --export-recs (default 20)")
    g.add_argument("--json", action="store_true", help="--inspect prints JSON")
    g.add_argument("--export-recs", nargs=2, metavar=("RUN_DIR", "OUT_CSV"), help="write every user's top-K to CSV")
    g.add_argument("--export-tensorboard", nargs=2, metavar=("RUN_OR_RUNS_DIR", "LOGDIR"),
                   help="write runs' loss and metric curves as TensorBoard scalars (extra: diffrec-tui[tensorboard])")
    return p


# The options each command reads (argparse dest names). Any other option given is refused:
# a flag that would be silently ignored is a mistake the user should hear about.
BACKEND_FLAGS = ("backend", "address", "cpus_per_trial", "gpus_per_trial")
OPTIONS = {
    "app": {"config", "overrides", "runs_dir", "device"},
    "run": {"run", "overrides", "runs_dir", "device", "seeds"},
    "run_seeds": {"run", "overrides", "runs_dir", "device", "seeds"},  # --run --seeds: a seed group
    "resume": {"resume", "runs_dir"},  # --runs-dir: where to find RUN_DIR given as a run's name
    "resume_sweep": {"resume", "runs_dir", "tune", "base_config", "overrides", "device", "trials", "workers",
                     "search", "prune", *BACKEND_FLAGS},
    "compare": {"compare", "models", "overrides", "runs_dir", "device", "seeds", "workers"},
    "tune": {"tune", "base_config", "trials", "workers", "overrides", "runs_dir", "device", "resume", "search", "prune", *BACKEND_FLAGS},
    "inspect": {"inspect", "user", "topk", "json"},
    "export_recs": {"export_recs", "topk"},
    "export_tensorboard": {"export_tensorboard"},
    "configs": {"configs"},
    "significance": {"significance"},
    "serve": {"serve", "port", "config", "overrides", "runs_dir", "device"},
}
VARIANTS = {"resume_sweep": "resume", "run_seeds": "run"}  # commands chosen by what a flag names or adds
FLAGS = {"config": "CONFIG (the app's config)", "overrides": "--set", "runs_dir": "--runs-dir",
         "base_config": "--config", "export_recs": "--export-recs"}
LIMITS = {"trials": 1_000_000, "workers": 1024, "topk": config_fields.MAX_TOPK}  # (the commands check the lower bounds)


def flag(dest: str) -> str:
    return FLAGS.get(dest, "--" + dest.replace("_", "-"))


def command_of(args) -> str:
    """The one command the arguments ask for, checked against OPTIONS (UsageError if not)."""
    given = [c for c in OPTIONS if c != "app" and c not in VARIANTS and getattr(args, c)]
    if "tune" in given and "resume" in given:
        given.remove("resume")  # --tune FILE --resume SWEEP: resume, checking FILE is the sweep's
    if len(given) > 1:
        raise UsageError(f"diffrec-tui: {flag(given[0])} and {flag(given[1])} are separate commands; give one of them")
    cmd = given[0] if given else "app"
    if args.resume and not Path(args.resume).exists() and (runs_root(args.runs_dir) / args.resume).is_dir():
        args.resume = str(runs_root(args.runs_dir) / args.resume)  # a run's name: the folder under the runs dir
    if cmd == "resume" and SweepDir(args.resume).exists():
        cmd = "resume_sweep"
    if cmd == "run" and args.seeds:
        cmd = "run_seeds"
    for dest, value in vars(args).items():
        if value not in (None, False, []) and dest not in OPTIONS[cmd]:
            users = [flag(c) for c, opts in OPTIONS.items() if dest in opts and c != "app" and c not in VARIANTS]
            what = "the app" if cmd == "app" else flag(VARIANTS.get(cmd, cmd))
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
        return COMMANDS[cmd](args)
    except BrokenPipeError:  # output piped into `head` and closed: not an error of ours
        sys.stderr.close()
        return ExitCode.OK
    except KeyboardInterrupt:  # Ctrl-C in a command without a worker (e.g. --inspect)
        print("diffrec-tui: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
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


def open_app(args) -> int:
    path = Path(args.config) if args.config else shipped.default()
    overrides = list(args.overrides) + ([f"device={args.device}"] if args.device else [])
    from diffrec_tui.app import DiffRecApp
    from diffrec_tui.state import Draft
    draft = Draft()
    draft.load(path, overrides)  # bad values open too, shown inline; a malformed file stops here (exit 2)
    cfg = draft.resolved(unknown_ok=True) if not draft.problems else config_schema.defaults()
    app = DiffRecApp(draft=draft, runs_dir=runs_root(args.runs_dir, cfg), runs_dir_fixed=bool(args.runs_dir))
    app.run()
    return app.return_code or ExitCode.OK


# ---------------------------------------------------------------- the commands
# Each imports its module when called: `diffrec-tui --run` never loads Rich tables or the app.

def _run(args) -> int:
    from diffrec_tui.headless import run
    return run.run_headless(args)


def _resume(args) -> int:
    from diffrec_tui.headless import run
    return run.resume_headless(args)


def _run_seeds(args) -> int:  # --run CONFIG --seeds LIST
    from diffrec_tui.headless import seeds_cmd
    return seeds_cmd.run_headless(args)


def _tune(args) -> int:  # --tune, and --resume SWEEP_DIR
    from diffrec_tui.headless import tune
    return tune.main(args)


def _compare(args) -> int:
    from diffrec_tui.headless import compare
    return compare.main(args)


def _significance(args) -> int:
    from diffrec_tui.headless import significance_cmd
    return significance_cmd.main(args)


def _inspect(args) -> int:
    from diffrec_tui.headless import inspect
    return inspect.main(args)


def _export_recs(args) -> int:
    from diffrec_tui.headless import inspect
    return inspect.export_main(args)


def _export_tensorboard(args) -> int:
    from diffrec_tui.headless import tensorboard
    return tensorboard.main(args)


def _serve(args) -> int:
    from diffrec_tui.headless import serve
    return serve.main(args)


COMMANDS = {"app": open_app, "run": _run, "run_seeds": _run_seeds, "resume": _resume, "resume_sweep": _tune,
            "tune": _tune, "compare": _compare, "significance": _significance, "inspect": _inspect,
            "export_recs": _export_recs, "export_tensorboard": _export_tensorboard, "configs": shipped.main,
            "serve": _serve}


if __name__ == "__main__":
    sys.exit(main())
