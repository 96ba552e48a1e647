"""Runs' curves as TensorBoard scalars, as RecBole users have them (its trainer logs
`Loss/Train` per epoch): `Loss/Train`, and per evaluation `valid/<metric>`, `test/<metric>`
and `valid_score` (the run's valid_metric), each at its epoch and wall time.

The writer is torch's SummaryWriter, which needs the optional `tensorboard` package
(`pip install "diffrec-tui[tensorboard]"`). Each run gets LOGDIR/<run id> (a sweep's trials
LOGDIR/<sweep>/<run id>); exporting again replaces what an earlier export wrote there.
"""
from __future__ import annotations

from pathlib import Path

from engine.errors import InputError
from engine.config.fields import metric_key
from engine.records.runs import RunDir, list_runs, load_run

EXTRA = 'pip install "diffrec-tui[tensorboard]"'


def writer_class():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch says "TensorBoard logging requires TensorBoard ..."
        raise InputError(f"--export-tensorboard: the tensorboard package is not installed; {EXTRA}") from None
    return SummaryWriter


def find_runs(path: str | Path) -> list[tuple[str, Path]]:
    """(name under LOGDIR, run directory) of a run, or of every run in a runs directory
    (sweeps' trials included)."""
    path = Path(path)
    if (path / "config.yaml").is_file():
        return [(path.name, path)]
    if not path.is_dir():
        raise InputError(f"--export-tensorboard: {path}: no such run or runs directory")
    found = [(r.id, r.path) for r in list_runs(path)]
    for sweep in sorted(p for p in path.iterdir() if p.is_dir() and (p / "sweep.yaml").is_file()):
        found += [(f"{sweep.name}/{r.id}", r.path) for r in list_runs(sweep)]
    if not found:
        raise InputError(f"--export-tensorboard: {path} holds no run directory (no config.yaml)")
    return found


def scalars(run_dir: Path) -> list[tuple[str, float, int, float]]:
    """(tag, value, step, wall time) of a run's curves, from its events."""
    info = load_run(run_dir)
    key = metric_key(info.config.get("valid_metric", "Recall@20"))
    out = []
    for ev in info.events:
        t, when = ev.get("type"), float(ev.get("time") or 0.0)
        try:
            if t == "epoch":
                out.append(("Loss/Train", float(ev["loss"]), int(ev["epoch"]), when))
            elif t == "eval":
                for split in ("valid", "test"):
                    out += [(f"{split}/{m}", float(v), int(ev["epoch"]), when) for m, v in ev[split].items()]
                if key in ev["valid"]:
                    out.append(("valid_score", float(ev["valid"][key]), int(ev["epoch"]), when))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # an event from another version, or hand-edited: not a curve point
    return out


def export(path: str | Path, logdir: str | Path) -> list[tuple[str, int]]:
    """Write every run's scalars under `logdir`; (name, number of scalars) per run."""
    writer_cls = writer_class()
    logdir = Path(logdir)
    done = []
    for name, run_dir in find_runs(path):
        target = logdir / name
        for old in target.glob("events.out.tfevents.*"):
            old.unlink()  # a re-export replaces, never doubles, the curves
        points = scalars(RunDir(run_dir).path)
        writer = writer_cls(log_dir=str(target))
        try:
            for tag, value, step, when in points:
                writer.add_scalar(tag, value, step, walltime=when)
        finally:
            writer.close()
        done.append((name, len(points)))
    return done
