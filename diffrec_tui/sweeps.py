"""Sweeps for the app, without Textual: check a space, create and launch one, and pick the
config to promote (the app owns the launched process: diffrec_tui.coordinators; listing
is engine.records.sweeps.list_sweeps). The Sweep screen only draws what this returns.

A sweep launched from the app is created here (engine.records.sweeps.SweepDir, no torch) and run
by a separate process, `python -m engine.processes.sweep_runner SWEEP_DIR`, in its own session
with stdin closed and its output in the sweep's log; the screen follows the sweep
directory with engine.records.sweeps.load_sweep. So the UI never imports torch and a sweep keeps
running (or can be resumed) when the app quits.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from engine.config import files as config_files
from engine.search import pruning, space as tuning
from engine.errors import ConfigError, InputError
from engine.untrusted import finite_number
from engine.records.sweeps import SETTLED, SweepDir, SweepInfo, TrialInfo, list_sweeps  # noqa: F401 (list_sweeps: re-exported)

REPO = Path(__file__).resolve().parent.parent  # where `-m engine.processes.sweep_runner` imports from
TEMPLATE = ("# one parameter a line (RecBole's hyper.test): KEY choice [v1,v2] | uniform LOW HIGH\n"
            "#   | loguniform LOW HIGH (exponents of e) | quniform LOW HIGH Q\n"
            "learning_rate choice [1e-3,1e-4]\n"
            "steps choice [5,10]\n")


# ---------------------------------------------------------------- naming

def label(path: Path) -> str:
    """'sweep-20250303-100000-hyper' -> '20250303-100000-hyper'."""
    name = Path(path).name
    return name[len("sweep-"):] if name.startswith("sweep-") else name


# ---------------------------------------------------------------- checking

@dataclass
class Check:
    """What the space editor says about its text: the parsed space or the error."""
    space: tuning.Space | None
    error: str = ""
    summary: str = ""


def check_space(text: str, trials: int | None = None, source: str = "hyper.test", search: str | None = None,
                prune: str = "none") -> Check:
    """Parse the editor's text; the message names the line of the first problem. `search`
    None: grid for an all-choice space without trials, else random."""
    try:
        space = tuning.parse(text, source=source)
    except ConfigError as exc:
        return Check(None, str(exc))
    n = len(space.params)
    pruned = f", {prune} pruning" if prune != "none" else ""
    if search in ("random", "bayes") and trials is None:
        return Check(space, f"{search} search needs a number of trials")
    if search == "grid" and trials is not None:
        return Check(space, "a grid runs every combination: clear trials, or choose random search")
    if search == "grid" and not space.is_grid:
        search = None  # the continuous-line message below says why
    if trials is not None:
        what = f"{'Bayesian (TPE)' if search == 'bayes' else 'random'} search, {trials} trial{'s' * (trials != 1)}"
    elif space.is_grid:
        what = f"grid of {space.grid_size} trial{'s' * (space.grid_size != 1)}"
    else:
        line = next(p for p in space.params if p.continuous)
        return Check(space, f"line {line.line} (`{line.key} {line.kind}`) is continuous: "
                            "random search needs a number of trials")
    return Check(space, summary=f"{n} parameter{'s' * (n != 1)}: {what}{pruned}")


def parse_count(text: str, what: str) -> int | None:
    """An optional positive integer typed in an input ('' = None)."""
    text = text.strip()
    if not text:
        return None
    try:
        n = int(text)
    except ValueError:
        raise InputError(f"{what}: must be a whole number, got `{text}`") from None
    if n < 1:
        raise InputError(f"{what}: must be >= 1, got {n}")
    return n


def base_config(path_text: str, draft) -> tuple[dict, str, str | None]:
    """(resolved base config, where it came from, the note naming its ignored RecBole
    keys): a YAML file when a path is given, else the editor's config.
    ConfigError/InputError with a one-line message."""
    path_text = path_text.strip()
    if path_text:
        from diffrec_tui.shipped import resolve
        path = resolve(path_text)  # a file here, else a shipped config of that name
        cfg, note = config_files.load_with_note(path)
        return config_files.absolute_paths(cfg), path.name, note
    try:
        return draft.resolved(), f"the editor's {draft.name}", draft.note
    except ConfigError as exc:
        raise ConfigError(f"the editor's config has problems ({exc}); fix it on the Config screen "
                          "or give a base config file") from None


# ---------------------------------------------------------------- launching

def create(root: str | Path, name: str, text: str, base: dict, trials: int | None,
           hyper_file: str | None = None, source: str = "hyper.test", search: str | None = None,
           prune: str = "none") -> tuple[SweepDir, list[str]]:
    """Plan the search and write its sweep directory (no process yet). Returns the sweep
    and notes to show (skipped combinations, lines that do not apply to the model)."""
    from engine.data.layout import locate
    space = tuning.parse(text, source=source)
    locate(base)  # a wrong data path is one message now, not one failed trial each
    strategy, planned = tuning.plan(space, base, trials, seed=base["seed"], search=search)
    runnable, skipped, size = tuning.plan_counts(strategy, trials, planned)
    if not runnable:
        raise ConfigError(f"every combination is invalid with this base config: {planned[0].skip}")
    notes = [f"line {p.line}: `{p.key}` {why}: trials differing only in it run once" for p, why in tuning.inert(space, base)]
    if skipped:
        notes.append(f"{skipped} of {len(planned)} combinations are invalid with this base config: skipped")
    sd = SweepDir.create(Path(root).resolve(), name or "sweep", space, base, strategy, planned, seed=base["seed"],
                         hyper_text=text, hyper_file=hyper_file, size=size,
                         prune=prune, pruner=pruning.settings(prune, base))
    return sd, notes


def launch(path: str | Path, workers: int | None = None, backend: str = "local") -> subprocess.Popen:
    """Run (or resume) the sweep's unfinished trials in a coordinator process (on a local
    Ray with backend `ray`; the coordinator's --backend flag)."""
    path = Path(path).resolve()
    cmd = coordinator_command(path, workers, backend)
    log = open(SweepDir(path).log_file, "ab")
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=str(REPO))
    finally:
        log.close()


def coordinator_command(path: Path, workers: int | None = None, backend: str = "local") -> list[str]:
    cmd = [sys.executable, "-m", "engine.processes.sweep_runner", str(path)]
    if workers:
        cmd += ["--workers", str(workers)]
    if backend == "ray":  # the local backend is the coordinator's default
        cmd += ["--backend", "ray"]
    return cmd


def log_tail(path: str | Path, lines: int = 3) -> str:
    """The last lines of a sweep's log (why its coordinator exited early)."""
    try:
        text = SweepDir(path).log_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


# ---------------------------------------------------------------- results

def ranked(info: SweepInfo) -> list[TrialInfo]:
    """Every trial, best validation metric first; trials without one after, by number."""
    sign = 1.0 if info.bigger else -1.0
    return sorted(info.trials, key=lambda t: (not finite_number(t.value), -sign * (t.value or 0.0), t.index))


def best_config(info: SweepInfo) -> tuple[dict, str]:
    """The best trial's full config (chosen by validation only) and where it came from:
    the sweep's best config file when it describes the current best trial, else base + the
    trial's params (what that file holds, for a sweep still running)."""
    best = info.best
    if best is None:
        raise ConfigError(f"{info.path.name}: no finished trial yet, so no best config")
    sd = SweepDir(info.path)
    if sd.best_trial_written() == best.index:
        return config_files.load(sd.best_file), f"{sd.best_file.name} of {label(info.path)} (trial {best.index})"
    return tuning.trial_config(info.meta["base"], best.params), f"best of {label(info.path)} (trial {best.index})"


def scatter_points(info: SweepInfo, key: str) -> tuple[list, list[float], list[int]]:
    """(x values, validation metrics, trial numbers) of the finished trials (a running or
    stopped trial's metric is only its best so far)."""
    xs, ys, idx = [], [], []
    for t in info.trials:
        if t.status == "finished" and finite_number(t.value) and key in t.params:
            xs.append(t.params[key])
            ys.append(float(t.value))
            idx.append(t.index)
    return xs, ys, idx


def best_so_far(info: SweepInfo, by: str = "trial") -> tuple[list[float], list[float]]:
    """The best finished validation metric after each ended trial, against the trial number
    (`by` "trial") or the minutes since the sweep was created ("time"). Pruned and failed
    trials add a point (the best stays), so the curve shows what each trial bought."""
    ended = [t for t in info.trials if t.status in SETTLED]
    if by == "time":
        start = _created(info)
        ended = sorted((t for t in ended if t.ended_at is not None), key=lambda t: t.ended_at)
    sign, best, xs, ys = (1.0 if info.bigger else -1.0), None, [], []
    for t in ended:
        if t.status == "finished" and finite_number(t.value) and (best is None or sign * t.value > sign * best):
            best = float(t.value)
        if best is not None:
            xs.append(float(t.index) if by == "trial" else max(0.0, (t.ended_at - start) / 60))
            ys.append(best)
    return xs, ys


def _created(info: SweepInfo) -> float:
    from datetime import datetime
    try:
        return datetime.fromisoformat(str(info.meta.get("created"))).timestamp()
    except ValueError:
        return min((t.ended_at for t in info.trials if t.ended_at is not None), default=0.0)
