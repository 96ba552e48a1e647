"""Is a difference real? Mean +- sample SD over seeds, and paired per-user tests (no torch).

Two models evaluated on the same split are compared user by user: each user's metric
(for a group of seeds, its mean over the seeds) under model A and under model B form a
pair. The tests are scipy's: the Wilcoxon signed-rank test (no normality assumed; users
with a zero difference are dropped, scipy's default) and the paired t-test, and a 95%
bootstrap confidence interval (BCa, users resampled) of the mean difference. Comparing
several models with one reference multiplies the chances of a false alarm: the p-values
are Holm-corrected across the models (per test and metric).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ALPHA = 0.05
RESAMPLES = 4000  # bootstrap resamples: the CI's ends move by < 1e-4 R@20 between seeds on ml-1m
BOOT_SEED = 0  # the bootstrap is reproducible: the same runs give the same interval


@dataclass(frozen=True)
class Spread:
    mean: float
    sd: float | None  # sample SD (n - 1); None for a single value
    n: int

    def text(self, digits: int = 4) -> str:
        if self.n == 0:
            return "-"
        sd = "" if self.sd is None else f" ± {self.sd:.{digits}f}"
        return f"{self.mean:.{digits}f}{sd}"


def spread(values) -> Spread:
    """Mean and sample standard deviation (ddof=1, as published comparisons report)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return Spread(math.nan, None, 0)
    return Spread(float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else None, int(v.size))


def holm(pvalues) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order: the i-th smallest p (from 0)
    times (m - i), made monotone, capped at 1. NaN stays NaN and does not count in m."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    running = 0.0
    for rank, i in enumerate(ok[np.argsort(p[ok], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


@dataclass(frozen=True)
class Paired:
    """Model A against model B on one metric, over the users both were evaluated on."""
    n_users: int
    mean_a: float
    mean_b: float
    diff: float  # mean over users of (a - b)
    ci_low: float
    ci_high: float
    p_wilcoxon: float
    p_ttest: float


def paired(a, b, resamples: int = RESAMPLES, seed: int = BOOT_SEED, confidence: float = 0.95) -> Paired:
    """Paired Wilcoxon signed-rank and t-test of per-user values a vs b, and the bootstrap
    CI of the mean difference. Identical vectors give p = 1 and a zero-width interval."""
    from scipy import stats

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError(f"paired: need two equal-length vectors of >= 2 users, got {a.shape} and {b.shape}")
    d = a - b
    if not np.any(d):  # no user differs: nothing to test
        return Paired(a.size, float(a.mean()), float(b.mean()), 0.0, 0.0, 0.0, 1.0, 1.0)
    p_w = float(stats.wilcoxon(a, b).pvalue)
    p_t = float(stats.ttest_rel(a, b).pvalue) if np.ptp(d) > 0 else 0.0  # constant non-zero shift: certain
    lo, hi = _bootstrap_ci(d, resamples, seed, confidence)
    return Paired(a.size, float(a.mean()), float(b.mean()), float(d.mean()), lo, hi, p_w, p_t)


def _bootstrap_ci(d: np.ndarray, resamples: int, seed: int, confidence: float) -> tuple[float, float]:
    from scipy import stats

    if np.ptp(d) == 0:
        return float(d[0]), float(d[0])
    res = stats.bootstrap((d,), np.mean, n_resamples=resamples, confidence_level=confidence,
                          method="BCa", batch=200, rng=np.random.default_rng(seed))
    lo, hi = res.confidence_interval
    return float(lo), float(hi)


@dataclass(frozen=True)
class AgainstBest:
    """One model against the reference (best) model, its p-values Holm-corrected."""
    model: str
    test: Paired
    p_wilcoxon_holm: float
    p_ttest_holm: float

    @property
    def significant(self) -> bool:
        """Both corrected tests below ALPHA and the interval excludes 0."""
        t = self.test
        return (self.p_wilcoxon_holm < ALPHA and self.p_ttest_holm < ALPHA
                and (t.ci_high < 0 or t.ci_low > 0))


def against_best(per_user: dict[str, np.ndarray], best: str, **kw) -> dict[str, AgainstBest]:
    """Every other model's per-user vector tested against `best`'s (difference = model - best),
    Holm-corrected across the models."""
    others = [m for m in per_user if m != best]
    tests = {m: paired(per_user[m], per_user[best], **kw) for m in others}
    pw = holm([tests[m].p_wilcoxon for m in others])
    pt = holm([tests[m].p_ttest for m in others])
    return {m: AgainstBest(m, tests[m], pw[i], pt[i]) for i, m in enumerate(others)}


def mark(result: AgainstBest | None) -> str:
    """The table's significance mark: `*` significant, `ns` not, blank for the best itself."""
    if result is None:
        return ""
    return "*" if result.significant else "ns"


def format_p(p: float) -> str:
    if p is None or math.isnan(p):
        return "-"
    return "<1e-4" if p < 1e-4 else f"{p:.4f}"
