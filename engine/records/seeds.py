"""Seed groups: one config trained once per seed, read back as mean +- sample SD (no torch).

A group is a sweep directory (engine.records.sweeps) whose only search line is `seed choice
[1, 2, 3]`: the sweep machinery runs, records and resumes it (`--resume GROUP_DIR`),
each seed's run is an ordinary run directory inside it, with its per-user test metrics
(engine.records.per_user). Nothing here chooses by test metrics: a group has no best seed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine import untrusted
from engine.analysis.significance import Spread, spread
from engine.config.fields import MAX_SEED, metric_key
from engine.errors import ConfigError, InputError
from engine.records.runs import RunDir
from engine.records.sweeps import SweepDir, load_sweep
from engine.search.space import Param, Space, plan

MAX_SEEDS = 100


def parse(text: str) -> list[int]:
    """'1,2,3' -> [1, 2, 3] (a range `1-5` works too); ConfigError naming --seeds."""
    out: list[int] = []
    for part in (p.strip() for p in str(text).split(",")):
        lo, dash, hi = part.partition("-")
        try:
            values = list(range(int(lo), int(hi) + 1)) if dash and lo else [int(part)]
        except ValueError:
            raise ConfigError(f"--seeds: `{part}` is not a seed; give integers like --seeds 1,2,3 or 1-5") from None
        for v in values:
            if not 0 <= v <= MAX_SEED:
                raise ConfigError(f"--seeds: {v} is outside 0..{MAX_SEED}")
            if v not in out:
                out.append(v)
    if not out or len(out) > MAX_SEEDS:
        raise ConfigError(f"--seeds: give 1 to {MAX_SEEDS} seeds, e.g. --seeds 1,2,3")
    return out


def space(seeds: list[int]) -> Space:
    return Space((Param("seed", "choice", tuple(seeds), line=1),))


def create(root: str | Path, base: dict, seeds: list[int], name: str | None = None, now=None) -> SweepDir:
    """A new group directory under `root`: one planned run per seed of `base`."""
    sp = space(seeds)
    _, trials = plan(sp, base)
    text = f"seed choice [{','.join(map(str, seeds))}]\n"
    return SweepDir.create(root, name or f"seeds-{base['model']}", sp, base, "grid", trials,
                           seed=seeds[0], hyper_text=text, now=now)


def is_group(path: str | Path) -> bool:
    """A sweep directory whose only search key is `seed`."""
    try:
        return [p.key for p in SweepDir(path).space().params] == ["seed"]
    except ConfigError:
        return False


@dataclass
class Group:
    path: Path
    model: str
    metric: str  # the validation metric key, e.g. recall@20
    seeds: list[int]
    runs: dict[int, Path] = field(default_factory=dict)  # seed -> run dir, finished runs only
    valid: dict[str, dict[int, float]] = field(default_factory=dict)  # key -> seed -> value
    test: dict[str, dict[int, float]] = field(default_factory=dict)
    missing: list[int] = field(default_factory=list)  # seeds without a finished run

    def spread(self, split: str, key: str) -> Spread:
        return spread(getattr(self, split).get(key, {}).values())

    @property
    def base(self) -> dict:
        return SweepDir(self.path).meta()["base"]


def load(path: str | Path) -> Group:
    """A group's finished runs and their metrics per seed. InputError if it is not a group."""
    if not is_group(path):
        raise InputError(f"group: {path} is not a seed group (a folder made by --seeds)")
    info = load_sweep(path)
    base = info.meta["base"]
    g = Group(info.path, base["model"], metric_key(base["valid_metric"]),
              [t.params["seed"] for t in info.trials])
    for t in info.trials:
        s = t.params["seed"]
        if t.status != "finished" or t.run is None:
            g.missing.append(s)
            continue
        g.runs[s] = t.run
        for split, values in (("valid", t.valid), ("test", t.test)):
            for key, v in values.items():
                getattr(g, split).setdefault(key, {})[s] = v
    return g


def per_user(paths: list[Path], key: str):
    """Each user's `key` averaged over the runs (their per-user test files), and the
    runs' shared dataset fingerprint. InputError when they are not on one split."""
    import numpy as np

    from engine.records import per_user as pu

    if not paths:
        raise InputError("significance: no finished run to compare")
    files = [pu.read(p) for p in paths]
    prints = {f.fingerprint for f in files}
    if len(prints) > 1:
        raise InputError(f"significance: the runs were evaluated on different data ({', '.join(sorted(prints))}); "
                         "compare runs of one split")
    for f in files:
        if key not in f.metrics:
            raise InputError(f"significance: {f.path} has no `{key}` (it has {', '.join(f.metrics)})")
    return np.mean([f.metrics[key] for f in files], axis=0), files[0].fingerprint


def members(path: str | Path) -> tuple[str, list[Path]]:
    """(label, finished run dirs) of a run directory or a seed group, for paired tests."""
    p = Path(path)
    if is_group(p):
        g = load(p)
        if not g.runs:
            raise InputError(f"significance: group {p} has no finished run yet")
        return f"{g.model} ({len(g.runs)} seeds)", [g.runs[s] for s in sorted(g.runs)]
    run = RunDir(p)
    if not run.exists():
        raise InputError(f"significance: {p} is neither a run directory nor a seed group")
    try:
        model = untrusted.read_yaml(run.config_file).get("model", p.name)
    except (ConfigError, OSError):
        model = p.name
    return f"{model} ({p.name})", [p]
