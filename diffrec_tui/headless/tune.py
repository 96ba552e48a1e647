"""`diffrec-tui --tune HYPER_FILE --config CONFIG [--search grid|random|bayes] [--trials N]
[--prune none|asha|median] [--workers N] [--runs-dir DIR] [--set k=v] [--resume SWEEP_DIR]`:
a hyper-parameter sweep, headless.

--search: grid (every combination; the default for an all-choice space without --trials),
random (--trials N draws; the default otherwise) or bayes (Optuna's TPE, seeded by the base
config's seed, proposes --trials N trials from the validation metric of the ended ones).
--prune asha|median stops trials whose validation metric at an evaluation is in the bottom
share of the trials that reached that epoch (engine.search.pruning); they are recorded as
`pruned` and never chosen as best.

Trials run as worker processes (engine.processes.sweep_runner.Runner), `--workers` at a time, each with
its share of the cores. In a terminal a Rich live table follows them; otherwise one plain
line per trial. At the end: the best trial (chosen on the validation metric only), its
valid and test metrics, and the best trial's full config, ready for `--run`.
Exit status (ExitCode): 0 at least one trial finished, 1 none did, 2 bad input, 130
interrupted (143 terminated, 129 hung up).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from diffrec_tui.text import STATUS_STYLE, seconds_cell, trial_keys

from engine.config import schema as config_mod
from engine.config import files as config_files
from engine.search import pruning, space as tuning
from engine.errors import InputError
from engine.records.runs import runs_root
from engine.processes.backends import make_backend, slots
from engine.processes.sweep_runner import exit_code, run_supervised
from engine.records.sweeps import SETTLED, SweepDir, SweepInfo, TrialInfo, best_trial, load_sweep



def main(args) -> int:
    if args.resume:
        return resume(args)
    if not args.base_config:
        raise InputError("--tune: needs --config CONFIG, the base config of every trial "
                         "(e.g. --config configs/default.yaml)")
    space = tuning.read(args.tune)
    from engine.data.layout import locate

    from diffrec_tui.headless.configs import load_config
    base = load_config(args.base_config, args)
    locate(base)  # a wrong data path is one error now, not one failed trial each
    strategy, trials = tuning.plan(space, base, args.trials, seed=base["seed"], search=args.search)
    runnable, skipped, size = tuning.plan_counts(strategy, args.trials, trials)
    if not runnable:
        raise InputError(f"--tune: every combination is invalid with this base config: {trials[0].skip}")
    backend = backend_of(args)
    try:
        workers, threads = slots(backend, base, args.workers, runnable)
        return _start(args, space, base, strategy, trials, (skipped, size), workers, threads, backend)
    finally:
        backend.close()  # closed already when the sweep ran; here for every other way out


def _start(args, space, base, strategy, trials, counts, workers, threads, backend) -> int:
    (skipped, size), hyper, prune = counts, Path(args.tune), args.prune or "none"
    pruner = pruning.settings(prune, base)
    for p, why in tuning.inert(space, base):
        print(f"note: {hyper.name} line {p.line}: `{p.key}` {why}: "
              "trials that differ only in it run once and share the result", flush=True)
    sd = SweepDir.create(runs_root(args.runs_dir, base), hyper.stem or "sweep", space, base, strategy, trials,
                         seed=base["seed"], hyper_text=hyper.read_text(encoding="utf-8"),
                         hyper_file=str(hyper.resolve()), size=size, prune=prune, pruner=pruner)
    print(f"sweep {sd.path}: {strategy} of {size} trials"
          + (f" ({skipped} skipped: invalid combinations)" if skipped else "")
          + f", {workers} worker{'s' * (workers > 1)}"
          + (f" x {threads} thread{'s' * (threads > 1)}" if threads else "")
          + f", best by valid {base['valid_metric']}" + _on(args)
          + (f", {pruning.describe(prune, pruner)}" if prune != "none" else ""), flush=True)
    return execute(sd, workers, threads, backend=backend)


def resume(args) -> int:
    """Run a sweep's unfinished trials again. The sweep's stored space and base config
    are used; a --tune/--config/--set given too must agree with them."""
    sd = SweepDir(args.resume)
    info = load_sweep(sd.path)  # ConfigError (exit 2) when it is not a sweep directory
    if info.status == "running":
        raise InputError(f"--resume: sweep {sd.path} is still running (pid {info.state.get('pid')})")
    meta, base = info.meta, info.meta["base"]
    if args.tune and _space_key(tuning.read(args.tune)) != _space_key(sd.space()):
        raise InputError(f"--resume: {args.tune} differs from the sweep's space; "
                         "drop --tune to resume, or start a new sweep without --resume")
    if args.base_config or args.overrides or args.device:
        from diffrec_tui.headless.configs import load_config
        given = load_config(args.base_config, args, show_note=False) if args.base_config else \
            config_mod.resolve({**base, **dict(config_files.parse_override(o) for o in args.overrides),
                                **({"device": args.device} if args.device else {})})
        changed = sorted(set(config_files.diff(base, given)) - {"threads"})
        if changed:
            raise InputError(f"--resume: the base config differs from the sweep's in {', '.join(changed)}; "
                             "resume without --config/--set, or start a new sweep")
    if args.trials is not None and args.trials != meta.get("trials"):
        raise InputError(f"--resume: the sweep has {meta.get('trials')} trials; drop --trials")
    for flag, key, default in (("search", "strategy", "grid"), ("prune", "prune", "none")):
        given, kept = getattr(args, flag), meta.get(key, default)
        if given is not None and given != kept:
            raise InputError(f"--resume: the sweep's --{flag} is {kept}; drop --{flag} {given}")
    todo = info.todo
    backend = backend_of(args)
    try:
        workers, threads = slots(backend, base, args.workers, max(1, todo))
        print(f"resuming sweep {sd.path}: {info.size - todo} of {info.size} trials done, "
              f"{todo} to run, {workers} worker{'s' * (workers > 1)}" + _on(args), flush=True)
        from engine.records.seeds import is_group
        if is_group(sd.path):  # a seed group: its mean +- SD table, no best trial
            from diffrec_tui.headless.seeds_cmd import finish
            return finish(sd, workers, threads, backend=backend)
        return execute(sd, workers, threads, backend=backend)
    finally:
        backend.close()


def backend_of(args):
    """The backend --backend names (engine.processes.backends); Ray is connected here, so a
    missing extra or a wrong --address is one error before anything is written."""
    return make_backend(getattr(args, "backend", None), address=getattr(args, "address", None),
                        cpus_per_trial=getattr(args, "cpus_per_trial", None),
                        gpus_per_trial=getattr(args, "gpus_per_trial", None))


def _on(args) -> str:
    name = getattr(args, "backend", None)
    if name != "ray":
        return f", backend {name}" if name else ""
    return f", on Ray ({args.address or 'a local instance'})"


def _space_key(space: tuning.Space) -> list:
    return [{k: v for k, v in d.items() if k != "line"} for d in space.to_list()]


def execute(sd: SweepDir, workers: int, threads: int | None, show_result: bool = True, backend=None) -> int:
    """Run the sweep's trials in the foreground with a live view (sweep_runner.run_supervised:
    a signal stops it like Ctrl-C, a second one kills the workers; exit status 130, 143 or 129).
    `show_result` False: the caller prints its own outcome (a seed group has no best trial)."""
    view = RichSweepView(sd) if sys.stdout.isatty() else PlainSweepView(sd)
    with view:
        info, signals = run_supervised(sd.path, workers, threads, on_update=view.update, on_tick=view.tick,
                                       backend=backend)
    if show_result:
        print_result(info, interrupted=bool(signals.received))
    return exit_code(info, signals)


# ---------------------------------------------------------------- display


def describe(t: TrialInfo, info: SweepInfo) -> str:
    """One plain line for a trial that started or ended."""
    head = f"trial {t.index}/{info.size} {t.status}"
    if t.status == "running":
        return f"{head}: {tuning.format_params(t.params)} ({t.run.name if t.run else ''})"
    if t.status in ("failed", "skipped", "dead", "pruned"):
        return f"{head}: {tuning.format_params(t.params)}: {t.reason}"
    test = " ".join(f"{k} {t.test[k]:.4f}" for k in trial_keys(info) if k in t.test)
    value = f"{t.value:.4f}" if t.value is not None else "-"
    cost = f"same config as trial {t.same_as}, not run again" if t.same_as else \
        f"{t.epochs} epochs, {t.seconds or 0:.1f}s"
    return (f"{head}: valid {info.metric} {value} | test {test or '-'} "
            f"({cost}): {tuning.format_params(t.params)}")


class PlainSweepView:
    """Not a terminal: one flushed line per trial that starts or ends."""

    def __init__(self, sd: SweepDir):
        self.info = load_sweep(sd.path)

    def __enter__(self):
        for t in self.info.trials:
            if t.status in ("skipped", "finished"):
                print(describe(t, self.info), flush=True)
        return self

    def __exit__(self, *exc):
        return False

    def update(self, t: TrialInfo) -> None:
        print(describe(t, self.info), flush=True)

    def tick(self) -> None:
        pass


class RichSweepView:
    """In a terminal: a live table of the trials (running ones first, then the best by
    validation metric), with each running trial's epoch read from its events."""

    def __init__(self, sd: SweepDir, console: Console | None = None):
        self.sd = sd
        self.console = console or Console()
        self.info = load_sweep(sd.path)
        self.live = Live(console=self.console, refresh_per_second=4, transient=False)
        self.last_read = 0.0
        self.started = time.monotonic()

    def __enter__(self):
        self.live.__enter__()
        self.live.update(self.render())
        return self

    def __exit__(self, *exc):
        return self.live.__exit__(*exc)

    def update(self, t: TrialInfo) -> None:
        if t.status in ("failed",):
            self.console.print(describe(t, self.info))
        self.refresh(force=True)

    def tick(self) -> None:
        self.refresh()

    def refresh(self, force: bool = False) -> None:
        if force or time.monotonic() - self.last_read > 0.5:  # running trials' epochs from their events
            self.info = load_sweep(self.sd.path)
            self.last_read = time.monotonic()
        self.live.update(self.render())

    def render(self, max_rows: int | None = None) -> Table:
        return trial_table(self.info, max_rows or max(5, self.console.size.height - 8),
                           time.monotonic() - self.started)


def trial_table(info: SweepInfo, max_rows: int, elapsed: float | None = None) -> Table:
    """Running trials first, then ended ones by validation metric (best on top), cut to max_rows."""
    counts = info.counts()
    done = sum(counts.get(s, 0) for s in SETTLED)
    title = (f"{info.name}: {done}/{info.size} done, " +
             ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) +
             (f", {elapsed:.0f}s" if elapsed is not None else ""))
    table = Table(title=title, title_justify="left")
    keys = [p["key"] for p in info.meta.get("space", [])]
    for col in ["#", "status", *keys, "epoch", f"valid {info.metric}", *(f"test {k}" for k in trial_keys(info)), "s"]:
        table.add_column(col, justify="right" if col not in ("status",) else "left", no_wrap=True)
    running = [t for t in info.trials if t.status == "running"]
    sign = 1.0 if info.bigger else -1.0
    ended = sorted((t for t in info.trials if t.status not in ("running", "pending")),
                   key=lambda t: (t.value is None, -sign * (t.value or 0.0), t.index))
    best = best_trial(info.trials, info.bigger)
    rows = (running + ended)[:max_rows]
    for t in rows:
        style = "bold" if best is not None and t.index == best.index else None
        table.add_row(str(t.index), Text(t.status, style=STATUS_STYLE.get(t.status, "")),
                      *(tuning.format_value(t.params.get(k)) for k in keys),
                      str(t.epochs or "-"), _num(t.value), *(_num(t.test.get(k)) for k in trial_keys(info)),
                      seconds_cell(t), style=style)
    hidden = len(running) + len(ended) - len(rows)
    notes = [f"trial {t.index} dead: {t.reason}" for t in info.trials if t.status == "dead"][:3]
    if hidden > 0:
        notes.append(f"{hidden} more in {SweepDir(info.path).csv_file}")
    if notes:
        table.caption = "\n".join(notes)
    return table


def _num(v) -> str:
    return f"{v:.4f}" if isinstance(v, (int, float)) else "-"


def print_result(info: SweepInfo, interrupted: bool, out=None) -> None:
    console = Console(file=out or sys.stdout, width=120)
    counts = info.counts()
    word = "stopped" if interrupted or info.status == "stopped" else "finished"
    console.print(f"sweep {word}: {info.size} trials: " +
                  ", ".join(f"{n} {s}" for s, n in sorted(counts.items())), highlight=False)
    best = info.best
    if best is None:
        console.print("no trial finished: no best config", highlight=False)
    else:
        console.print(f"best trial {best.index} (chosen by valid {info.metric}; test never chooses): "
                      f"{tuning.format_params(best.params)}", highlight=False)
        k = info.metric.partition("@")[2]
        table = Table()
        for col in ("metric", "valid", "test"):
            table.add_column(col, justify="left" if col == "metric" else "right")
        for key, v in best.valid.items():
            if key.endswith(f"@{k}"):
                table.add_row(key, f"{v:.4f}", _num(best.test.get(key)))
        console.print(table)
        console.print(f"best config: {SweepDir(info.path).best_file} (diffrec-tui --run {SweepDir(info.path).best_file})",
                      highlight=False, soft_wrap=True)
    console.print(f"results: {SweepDir(info.path).csv_file}", highlight=False, soft_wrap=True)
    if word == "stopped":
        console.print(f"resume with: diffrec-tui --resume {info.path}", highlight=False, soft_wrap=True)
