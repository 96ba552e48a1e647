"""Which evaluation is better, and when to stop: `stopping_rule` exact (ours: a strictly
better value, stop after `stopping_step` evaluations without one) or recbole (RecBole
1.2.1's `early_stopping`: values rounded to 4 places, its default metric_decimal_place, a
tie counts as better and moves the best model to the newer epoch, and the run stops once
more than `stopping_step` evaluations in a row were not better)."""
from __future__ import annotations

import math

RECBOLE_DECIMALS = 4


class StoppingRule:
    def __init__(self, rule: str = "exact", patience: int = 4, bigger: bool = True):
        self.recbole = rule == "recbole"
        self.patience = patience
        self.sign = 1.0 if bigger else -1.0

    @classmethod
    def of(cls, cfg: dict) -> "StoppingRule":
        return cls(cfg.get("stopping_rule", "exact"), cfg["stopping_step"], cfg["valid_metric_bigger"])

    def score(self, value: float | None) -> float:
        """The compared score: signed so that bigger is better (rounded under recbole);
        -inf for a missing value."""
        if value is None or not math.isfinite(value):
            return -math.inf
        return self.sign * (round(value, RECBOLE_DECIMALS) if self.recbole else value)

    def improves(self, score: float, best: float) -> bool:
        if score == -math.inf:
            return False
        return score >= best if self.recbole else score > best

    def exhausted(self, bad_evals: int) -> bool:
        """Stop now, after `bad_evals` evaluations in a row that were not better?"""
        return bad_evals > self.patience if self.recbole else bad_evals >= self.patience

    def evaluations(self) -> int:
        """How many evaluations without a better value end a run (for the stop message)."""
        return self.patience + 1 if self.recbole else self.patience
