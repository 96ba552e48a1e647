"""The sweep coordinator's search and pruning hooks (engine.processes.sweep_runner.Runner calls them).

`--search bayes` grows the plan while the sweep runs: a free worker slot asks TPE for the
next trial, recorded in results.jsonl (status pending, with Optuna's raw values) before it
starts. `--prune asha|median` follows every running trial's `eval` events in its run
directory and reports the validation metric to the study's pruner; a trial it rejects is
stopped like Ctrl-C stops it (the Runner sends SIGINT) and recorded as `pruned`. Both are
decided here, from the run directories, so they work the same for every way of running a
trial. A grid or random sweep without pruning never imports Optuna.
"""
from __future__ import annotations

from engine.records.events import EventFollower
from engine.untrusted import finite_number
from engine.records.runs import RunDir
from engine.records.sweeps import SweepDir, SweepInfo, TrialInfo
from engine.search import pruning
from engine.search.space import skip_reason


class SweepSearch:
    def __init__(self, sd: SweepDir, info: SweepInfo):
        meta = info.meta
        self.sd, self.base, self.metric = sd, meta["base"], info.metric
        self.strategy = meta.get("strategy", "grid")
        self.prune, self.opts = meta.get("prune", "none"), meta.get("pruner") or {}
        self.size = info.size
        self.study = None
        self.watch: dict[int, tuple[EventFollower, dict]] = {}  # trial -> (its events, its curve)
        if self.strategy == "bayes" or self.prune != "none":
            from engine.search.optuna_search import Study
            self.study = Study(sd.space(), self.strategy, int(meta.get("seed", 0)), info.bigger,
                               pruning.build(self.prune, self.opts))
            self._rebuild(info)

    def _rebuild(self, info: SweepInfo) -> None:
        """A resumed sweep's ended trials go back into the study (TPE's history, the pruner's rungs)."""
        last = {rec["trial"]: rec for rec in self.sd.records()}
        for t in info.trials:
            if t.status in ("finished", "pruned", "failed", "skipped"):
                curve = _curve(last.get(t.index, {}).get("curve"))
                self.study.add_ended(t.params, t.status, t.value, curve,
                                     pruning.rung_attrs(self.prune, self.opts, curve))

    def more(self, planned: int) -> bool:
        """May a new trial be proposed (bayes, fewer trials than asked for)?"""
        return self.strategy == "bayes" and planned < self.size

    def propose(self, index: int) -> TrialInfo:
        """TPE's next trial, recorded (pending, or skipped when the base config rejects it)."""
        params, raw = self.study.propose(index)
        t = TrialInfo(index, params)
        skip = skip_reason(self.base, params)
        if skip:
            t.status, t.reason = "skipped", skip
            self.study.close(index, "skipped", None)
        self.sd.record({"trial": index, "status": t.status, "params": params, "proposed": raw,
                        **({"reason": skip} if skip else {})})
        return t

    def started(self, t: TrialInfo, run: RunDir) -> None:
        if self.study is not None:
            self.study.open(t.index, t.params)
            self.watch[t.index] = (EventFollower(run.events_file), {})

    def check(self, t: TrialInfo) -> tuple[int, float] | None:
        """New evaluations of a running trial; (epoch, value) when the pruner stops it there."""
        follower, curve = self.watch.get(t.index, (None, None))
        if follower is None:
            return None
        hit = None
        for ev in follower.poll():
            valid = ev.get("valid")
            epoch, value = ev.get("epoch"), valid.get(self.metric) if isinstance(valid, dict) else None
            if ev.get("type") != "eval" or not isinstance(epoch, int) or not finite_number(value):
                continue
            curve[epoch] = float(value)
            if hit is None and self.prune != "none" and self.study.report(t.index, epoch, float(value)):
                hit = (epoch, float(value))
        return hit

    def curve(self, index: int) -> dict[int, float]:
        return dict(self.watch.get(index, (None, {}))[1])

    def ended(self, t: TrialInfo) -> None:
        self.watch.pop(t.index, None)
        if self.study is not None:
            self.study.close(t.index, t.status, t.value)

    def pruned_reason(self, epoch: int, value: float) -> str:
        share = f"1/{self.opts['reduction_factor']}" if self.prune == "asha" else "half"
        return (f"pruned by {self.prune} at epoch {epoch}: valid {self.metric} {value:.4f} "
                f"not in the top {share} of the trials that reached it")


def _curve(raw) -> dict[int, float]:
    """A recorded curve ({epoch: value}, JSON keys are text), validated like any input."""
    out = {}
    if isinstance(raw, dict):
        for k, v in raw.items():
            if str(k).isdigit() and finite_number(v):
                out[int(k)] = float(v)
    return out
