"""Which pruner stops a sweep's bad trials early, and its settings from the base config.

A trial reports its validation metric at every evaluation epoch (every `eval_step` epochs),
so each ASHA rung is an evaluation epoch: `min_resource` is the largest multiple of
eval_step that leaves three rungs (r, r*3, r*9) within `epochs` (at least one eval_step),
`reduction_factor` 3 keeps the top third at each rung. The median pruner judges from the
same first rung on, after 5 trials have ended. `stopping_step` early stopping still applies
inside each trial. No torch here; Optuna only when a pruner is built.
"""
from __future__ import annotations

PRUNERS = ("none", "asha", "median")
REDUCTION = 3
RUNGS = 3
MEDIAN_STARTUP = 5


def settings(name: str, cfg: dict) -> dict:
    """What sweep.yaml records for pruner `name` under base config `cfg`."""
    if name == "none":
        return {}
    step = max(1, int(cfg.get("eval_step") or 1))
    last = REDUCTION ** (RUNGS - 1)
    first = max(step, (int(cfg.get("epochs") or 1) // last) // step * step)
    if name == "asha":
        return {"min_resource": first, "reduction_factor": REDUCTION}
    return {"n_startup_trials": MEDIAN_STARTUP, "n_warmup_steps": first - 1, "interval_steps": 1}


def build(name: str, opts: dict):
    """The Optuna pruner, or None for `none`."""
    if name == "none":
        return None
    import optuna
    if name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=int(opts["min_resource"]),
                                                      reduction_factor=int(opts["reduction_factor"]),
                                                      min_early_stopping_rate=0)
    return optuna.pruners.MedianPruner(n_startup_trials=int(opts["n_startup_trials"]),
                                       n_warmup_steps=int(opts["n_warmup_steps"]),
                                       interval_steps=int(opts["interval_steps"]))


def rung_attrs(name: str, opts: dict, curve: dict[int, float]) -> dict:
    """ASHA's per-rung records for a trial rebuilt from its curve (the value at the first
    reported epoch at or past each rung, as the pruner itself stores it)."""
    if name != "asha" or not curve:
        return {}
    out, rung = {}, 0
    for epoch in sorted(curve):
        while epoch >= opts["min_resource"] * opts["reduction_factor"] ** rung:
            out[f"completed_rung_{rung}"] = curve[epoch]
            rung += 1
    return out


def describe(name: str, opts: dict) -> str:
    if name == "asha":
        r, eta = opts["min_resource"], opts["reduction_factor"]
        return f"asha: rungs at epochs {r}, {r * eta}, {r * eta * eta}..., top 1/{eta} go on"
    if name == "median":
        return (f"median: from epoch {opts['n_warmup_steps'] + 1}, below the median of earlier trials "
                f"(after {opts['n_startup_trials']}) stops")
    return "no pruning"
