"""Search spaces in RecBole's `hyper.test` format, and the trials a search runs.

One parameter a line, `#` starts a comment:

    learning_rate choice [1e-3,1e-4]         # values typed by the config schema
    dims_dnn choice ['[300]','[200,600]']     # a quoted list is one value: a list
    noise_scale loguniform -9 -2             # exp(uniform(-9, -2)), RecBole's meaning
    w_min uniform 0.1 0.5
    steps quniform 2 50 4                    # round(uniform(2, 50) / 4) * 4

All-`choice` spaces default to an exhaustive grid; a continuous line needs random search
(`trials`). A combination the config rejects as a whole (noise_min >= noise_max, say) is
kept as a skipped trial with the reason, so a sweep never crashes on it. No torch here.
"""
from __future__ import annotations

import difflib
import itertools
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.config import coerce as coercion
from engine.config import schema as config_mod
from engine.errors import ConfigError

KINDS = ("choice", "uniform", "loguniform", "quniform")
CONTINUOUS = ("uniform", "loguniform", "quniform")
MAX_GRID = 100_000  # beyond this a grid is surely a mistake: ask for random search
SIGNIFICANT = 6  # sampled floats are rounded so tables and best.yaml stay readable


@dataclass(frozen=True)
class Param:
    """One line of a hyper.test file."""
    key: str
    kind: str  # choice | uniform | loguniform | quniform
    values: tuple = ()  # choice: the typed values
    low: float = 0.0
    high: float = 0.0
    q: float = 0.0
    line: int = 0

    @property
    def continuous(self) -> bool:
        return self.kind in CONTINUOUS

    def to_dict(self) -> dict:
        if self.kind == "choice":
            return {"key": self.key, "kind": "choice", "values": list(self.values), "line": self.line}
        out = {"key": self.key, "kind": self.kind, "low": self.low, "high": self.high, "line": self.line}
        if self.kind == "quniform":
            out["q"] = self.q
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Param":
        return cls(d["key"], d["kind"], tuple(d.get("values") or ()), float(d.get("low", 0.0)),
                   float(d.get("high", 0.0)), float(d.get("q", 0.0)), int(d.get("line", 0)))

    def describe(self) -> str:
        if self.kind == "choice":
            return f"{self.key} choice {list(self.values)}"
        extra = f" {self.q:g}" if self.kind == "quniform" else ""
        return f"{self.key} {self.kind} {self.low:g} {self.high:g}{extra}"


@dataclass(frozen=True)
class Space:
    params: tuple[Param, ...]

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.params]

    @property
    def is_grid(self) -> bool:
        """True when every line is `choice` (an exhaustive grid is possible)."""
        return all(not p.continuous for p in self.params)

    @property
    def grid_size(self) -> int:
        return math.prod(len(p.values) for p in self.params) if self.is_grid else 0

    def to_list(self) -> list[dict]:
        return [p.to_dict() for p in self.params]

    @classmethod
    def from_list(cls, items: list[dict]) -> "Space":
        return cls(tuple(Param.from_dict(d) for d in items))


# ---------------------------------------------------------------- parsing

def read(path: str | Path) -> Space:
    from engine.untrusted import read_text
    p = Path(path)
    return parse(read_text(p, "--tune"), source=p.name)


_COMMENT = re.compile(r"(^|\s)#.*$")


def parse(text: str, source: str = "hyper.test") -> Space:
    """Parse hyper.test text; ConfigError names the line for anything wrong."""
    params: list[Param] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", raw).strip()
        if not line:
            continue
        where = f"{source} line {n}"
        param = _parse_line(line, n, where)
        if param.key in seen:
            raise ConfigError(f"{where}: `{param.key}` is already set on line {seen[param.key]}; keep one line per key")
        seen[param.key] = n
        params.append(param)
    if not params:
        raise ConfigError(f"{source}: no parameters; write one a line, e.g. `learning_rate choice [1e-3,1e-4]`")
    return Space(tuple(params))


def _parse_line(line: str, n: int, where: str) -> Param:
    parts = line.split(None, 2)
    if len(parts) < 3:
        raise ConfigError(f"{where}: expected `KEY choice [v1,v2]`, `KEY uniform LOW HIGH`, "
                          f"`KEY loguniform LOW HIGH` or `KEY quniform LOW HIGH Q`, got `{line}`")
    key, kind, rest = parts
    if key not in config_mod.SCHEMA:
        raise ConfigError(f"{where}: unknown key `{key}`{config_mod.suggest(key)}")
    if kind not in KINDS:
        close = difflib.get_close_matches(kind, KINDS, n=1, cutoff=0.6)
        hint = f" (did you mean `{close[0]}`?)" if close else f" (use {', '.join(KINDS)})"
        raise ConfigError(f"{where}: unknown search type `{kind}`{hint}")
    if kind == "choice":
        return Param(key, kind, values=_choice_values(key, rest, where), line=n)
    return _continuous(key, kind, rest, n, where)


def _choice_values(key: str, rest: str, where: str) -> tuple:
    try:
        values = yaml.safe_load(rest)
    except yaml.YAMLError:
        values = None
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}: `{key} choice` needs a non-empty list like [1e-3,1e-4], got `{rest}`")
    out = []
    for v in values:
        typed = _typed(key, v, where)
        if typed not in out:  # a repeated value would only run the same trial twice
            out.append(typed)
    return tuple(out)


def _typed(key: str, value: Any, where: str) -> Any:
    try:
        return config_mod.coerce(key, value)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {_strip(str(exc))}") from None


def _strip(msg: str) -> str:
    return msg[len("config: "):] if msg.startswith("config: ") else msg


def _continuous(key: str, kind: str, rest: str, n: int, where: str) -> Param:
    want = 3 if kind == "quniform" else 2
    form = "LOW HIGH Q" if kind == "quniform" else "LOW HIGH"
    try:
        nums = [float(x) for x in rest.split()]
    except ValueError:
        nums = []
    if len(nums) != want or not all(math.isfinite(x) for x in nums):
        raise ConfigError(f"{where}: `{key} {kind}` needs {want} numbers {form}, got `{rest}`")
    field = config_mod.SCHEMA[key]
    if field.kind not in ("int", "float"):
        raise ConfigError(f"{where}: `{key}` is {coercion.describe(field)}, not a number; "
                          f"use `{key} choice [..]`")
    low, high = nums[0], nums[1]
    if not low < high:
        raise ConfigError(f"{where}: `{key} {kind}` needs LOW < HIGH, got {low:g} >= {high:g}")
    q = nums[2] if kind == "quniform" else 0.0
    if kind == "quniform" and q <= 0:
        raise ConfigError(f"{where}: `{key} quniform` needs a step Q > 0, got {q:g}")
    param = Param(key, kind, low=low, high=high, q=q, line=n)
    for end in (low, high):  # both ends must give a value the schema accepts
        _typed(key, _shape(param, end), where)
    return param


def _shape(p: Param, u: float) -> Any:
    """A uniform draw `u` in [low, high] turned into the line's value, typed for its key."""
    if p.kind == "loguniform":
        v = math.exp(u)
    elif p.kind == "quniform":
        v = round(u / p.q) * p.q
    else:
        v = u
    if config_mod.SCHEMA[p.key].kind == "int":
        return int(round(v))
    return float(f"{v:.{SIGNIFICANT}g}")


# ---------------------------------------------------------------- search

@dataclass(frozen=True)
class Trial:
    index: int  # 1-based, as every table and message shows it
    params: dict
    skip: str | None = None  # why the combination cannot run (None = it can)


def grid(space: Space) -> list[dict]:
    """Every combination, in file order (the last line varies fastest)."""
    if not space.is_grid:
        raise ConfigError("a grid needs every line to be `choice`; use --trials N for random search")
    return [dict(zip(space.keys, combo)) for combo in itertools.product(*(p.values for p in space.params))]


def sample(space: Space, n: int, seed: int) -> list[dict]:
    """`n` random combinations, reproducible from `seed`. An all-choice space is sampled
    without replacement (n >= its size gives the whole grid, shuffled)."""
    rng = random.Random(seed)
    if space.is_grid:
        combos = grid(space)
        return rng.sample(combos, min(n, len(combos)))
    out = []
    for _ in range(n):
        out.append({p.key: rng.choice(p.values) if p.kind == "choice" else _shape(p, rng.uniform(p.low, p.high))
                    for p in space.params})
    return out


SEARCHES = ("grid", "random", "bayes")  # --search


def plan_counts(strategy: str, trials: int | None, planned: list[Trial]) -> tuple[int, int, int]:
    """(trials to run, combinations skipped, the sweep's size) of a plan: bayes plans none
    ahead, it proposes `trials` as it runs."""
    if strategy == "bayes":
        return trials, 0, trials
    runnable = sum(1 for t in planned if not t.skip)
    return runnable, len(planned) - runnable, len(planned)


def plan(space: Space, base: dict, trials: int | None = None, seed: int = 0,
         search: str | None = None) -> tuple[str, list[Trial]]:
    """(strategy, trials): a grid when `trials` is None, else `trials` random draws;
    `search` (grid|random|bayes) asks for one. Each trial's params are checked together
    with the base config; a rejected combination becomes a skipped trial carrying the
    config's message. bayes plans nothing: the sweep proposes its `trials` as it runs."""
    search = search or ("grid" if trials is None else "random")
    if search != "grid" and trials is None:
        raise ConfigError(f"--search {search}: needs --trials N, the number of trials to run")
    if search == "grid" and trials is not None:
        raise ConfigError("--search grid: runs every combination; drop --trials, or use --search random")
    if search == "bayes":
        if trials < 1:
            raise ConfigError(f"--trials: must be >= 1, got {trials}")
        return "bayes", []
    if trials is None:
        if not space.is_grid:
            line = next(p for p in space.params if p.continuous)
            raise ConfigError(f"--tune: line {line.line} (`{line.key} {line.kind}`) is continuous: "
                              "random search needs --trials N")
        if space.grid_size > MAX_GRID:
            raise ConfigError(f"--tune: the grid has {space.grid_size} combinations; "
                              "sample some with --trials N")
        strategy, combos = "grid", grid(space)
    else:
        if trials < 1:
            raise ConfigError(f"--trials: must be >= 1, got {trials}")
        strategy, combos = "random", sample(space, trials, seed)
    return strategy, [Trial(i, c, skip_reason(base, c)) for i, c in enumerate(combos, start=1)]


def skip_reason(base: dict, params: dict) -> str | None:
    found = config_mod.problems({**base, **params})
    return "; ".join(_strip(p.message) for p in found) if found else None


def inert(space: Space, base: dict) -> list[tuple[Param, str]]:
    """(line, why) for lines that cannot change a trial under the base config: the key does
    not apply to the base model, or it needs a switch the base leaves off (w_min without
    time-aware). Trials that differ only in them run the same config. A space that varies
    the model or the switch itself is trusted."""
    out = []
    for p in space.params:
        f = config_mod.SCHEMA[p.key]
        if "model" not in space.keys and not config_mod.applies(f, base["model"]):
            out.append((p, f"does not apply to model {base['model']}"))
        elif f.needs and f.needs not in space.keys and not base.get(f.needs):
            out.append((p, f"has no effect while `{f.needs}` is false in the base config"))
    return out


def same_config(space: Space, base: dict, plan: list[dict]) -> tuple[dict[int, int], str]:
    """Trials that would run the very same config: ({trial: the first trial with its
    config} for every planned trial, why). Only the lines `inert` names are ignored, so
    trials match when they differ in those alone; training is seeded, so such trials give
    the same result and a sweep runs one of them."""
    found = inert(space, base)
    ignored = {p.key for p, _ in found}
    first: dict[str, int] = {}
    group = {}
    for entry in plan:
        key = repr(sorted((k, v) for k, v in entry["params"].items() if k not in ignored))
        group[entry["trial"]] = first.setdefault(key, entry["trial"])
    return group, "; ".join(f"`{p.key}` {reason}" for p, reason in found)


def trial_config(base: dict, params: dict, threads: int | None = None) -> dict:
    """The full config one trial runs: base + params, with the worker's thread count
    when neither the base nor the space fixes one."""
    cfg = {**base, **params}
    if threads and not base.get("threads") and "threads" not in params:
        cfg["threads"] = threads
    return config_mod.resolve(cfg)


def format_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "[" + ",".join(format_value(x) for x in v) + "]"
    return str(v)


def format_params(params: dict) -> str:
    return " ".join(f"{k}={format_value(v)}" for k, v in params.items())
