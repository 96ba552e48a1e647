"""A sweep's Optuna study, ask/tell style: TPE proposes bayes trials, a pruner judges every
trial's validation curve. The coordinator (engine.processes.sweep_runner) drives it; the
trials themselves never see Optuna. No torch here; Optuna is imported only by a sweep that
asks for bayes or pruning.

Every hyper.test line maps to an Optuna distribution: choice -> categorical over the value's
position (a value may be a list), uniform -> float, loguniform -> float(log=True) on
[e^LOW, e^HIGH] (RecBole's exp-of-bounds), quniform -> float on [LOW, HIGH] shaped by the
same rounding as random search (engine.search.space._shape), so a trial's params are typed
exactly as a grid or random trial's are.
"""
from __future__ import annotations

import math

from engine.search.space import Param, Space, _shape


def distributions(space: Space) -> dict:
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    out = {}
    for p in space.params:
        if p.kind == "choice":
            out[p.key] = CategoricalDistribution(tuple(range(len(p.values))))
        elif p.kind == "loguniform":
            out[p.key] = FloatDistribution(math.exp(p.low), math.exp(p.high), log=True)
        else:
            out[p.key] = FloatDistribution(p.low, p.high)
    return out


def to_params(space: Space, raw: dict) -> dict:
    """Optuna's values -> a trial's params, typed like engine.search.space's."""
    return {p.key: p.values[raw[p.key]] if p.kind == "choice" else _value(p, raw[p.key]) for p in space.params}


def _value(p: Param, x: float):
    return _shape(p, math.log(x)) if p.kind == "loguniform" else _shape(p, x)


def to_raw(space: Space, params: dict) -> dict | None:
    """A trial's params -> Optuna's values (None when they are not in the space: a hand edit)."""
    out = {}
    for p in space.params:
        v = params.get(p.key)
        if p.kind == "choice":
            if v not in p.values:
                return None
            out[p.key] = p.values.index(v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            low, high = (math.exp(p.low), math.exp(p.high)) if p.kind == "loguniform" else (p.low, p.high)
            out[p.key] = min(max(float(v), low), high)  # a quniform value may round past an end
        else:
            return None
    return out


class Study:
    """One Optuna study for a sweep: `propose()` (bayes) asks TPE for the next params,
    `open(index)` starts a study trial for a sweep trial, `report()` gives it a validation
    value at an epoch and says whether the pruner stops it, `close()` tells the outcome.
    `add_ended()` rebuilds the study from a resumed sweep's recorded trials."""

    def __init__(self, space: Space, search: str, seed: int, bigger: bool, pruner=None):
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna, self.space, self.search = optuna, space, search
        sampler = optuna.samplers.TPESampler(seed=seed) if search == "bayes" else \
            optuna.samplers.RandomSampler(seed=seed)
        self.study = optuna.create_study(direction="maximize" if bigger else "minimize", sampler=sampler,
                                         pruner=pruner or optuna.pruners.NopPruner())
        self.dists = distributions(space) if search == "bayes" else {}
        self.live: dict = {}  # sweep trial -> its open optuna trial
        self.reported: dict[int, set[int]] = {}  # sweep trial -> the epochs it reported (each once)

    def propose(self, index: int) -> tuple[dict, dict]:
        """(params, Optuna's raw values) of a new bayes trial, opened under `index`."""
        trial = self.study.ask(self.dists)
        self.live[index] = trial
        return to_params(self.space, trial.params), dict(trial.params)

    def open(self, index: int, params: dict) -> None:
        """A study trial for a sweep trial that was not proposed in this process."""
        if index in self.live:
            return
        raw = to_raw(self.space, params) if self.dists else None
        if raw is not None:
            self.study.enqueue_trial(raw, skip_if_exists=False)
        self.live[index] = self.study.ask(self.dists if raw is not None else None)

    def report(self, index: int, epoch: int, value: float) -> bool:
        """Record the trial's validation value at `epoch`; True when the pruner stops it."""
        trial, seen = self.live.get(index), self.reported.setdefault(index, set())
        if trial is None or value is None or not math.isfinite(value) or epoch in seen:
            return False
        seen.add(int(epoch))
        trial.report(float(value), int(epoch))
        return trial.should_prune()

    def close(self, index: int, status: str, value: float | None) -> None:
        """Tell the outcome: finished -> complete, pruned -> pruned, anything else -> failed."""
        trial = self.live.pop(index, None)
        self.reported.pop(index, None)
        if trial is None:
            return
        state = self.optuna.trial.TrialState
        if status == "finished" and value is not None and math.isfinite(value):
            self.study.tell(trial, float(value))
        elif status == "pruned":
            self.study.tell(trial, state=state.PRUNED)
        else:
            self.study.tell(trial, state=state.FAIL)

    def add_ended(self, params: dict, status: str, value: float | None, curve: dict[int, float],
                  system_attrs: dict | None = None) -> None:
        """A trial recorded by an earlier coordinator, so TPE and the pruner know it again."""
        state = self.optuna.trial.TrialState
        raw = to_raw(self.space, params) if self.dists else {}
        if raw is None:
            return
        ok = status == "finished" and value is not None and math.isfinite(value)
        kind = state.COMPLETE if ok else state.PRUNED if status == "pruned" else state.FAIL
        frozen = self.optuna.trial.create_trial(
            params=raw, distributions=self.dists if raw else {}, value=float(value) if ok else None,
            intermediate_values={int(k): float(v) for k, v in curve.items()}, state=kind,
            system_attrs=system_attrs or {})
        self.study.add_trial(frozen)
