"""engine.analysis.significance against scipy and hand-computed values on known per-user vectors."""
from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from scipy import stats

from engine.analysis import significance as sig

A = np.array([0.5, 0.2, 0.0, 1.0, 0.25, 0.4, 0.1, 0.0, 0.6, 0.3])
B = np.array([0.4, 0.2, 0.1, 0.5, 0.0, 0.3, 0.1, 0.0, 0.2, 0.35])


def test_spread_is_mean_and_sample_sd():
    s = sig.spread([0.1674, 0.1702, 0.1651])
    assert s.mean == pytest.approx(statistics.mean([0.1674, 0.1702, 0.1651]))
    assert s.sd == pytest.approx(statistics.stdev([0.1674, 0.1702, 0.1651]))  # n - 1, not n
    # by hand: mean 0.167567, deviations -0.000167, 0.002633, -0.002467: sqrt(sum of squares / 2)
    assert s.sd == pytest.approx(math.sqrt((0.000167 ** 2 + 0.002633 ** 2 + 0.002467 ** 2) / 2), abs=1e-6)
    assert s.n == 3 and s.text() == "0.1676 ± 0.0026"
    one = sig.spread([0.3])
    assert one.sd is None and one.text() == "0.3000"
    assert sig.spread([None, math.nan]).n == 0 and sig.spread([]).text() == "-"


def test_paired_tests_are_scipys():
    r = sig.paired(A, B)
    assert r.n_users == 10 and r.diff == pytest.approx(float((A - B).mean()))
    assert r.mean_a == pytest.approx(A.mean()) and r.mean_b == pytest.approx(B.mean())
    assert r.p_wilcoxon == pytest.approx(stats.wilcoxon(A, B).pvalue)
    assert r.p_ttest == pytest.approx(stats.ttest_rel(A, B).pvalue)
    # t by hand: mean(d) / (sd(d) / sqrt(n)), two-sided with n - 1 degrees of freedom
    d = A - B
    t = d.mean() / (d.std(ddof=1) / math.sqrt(len(d)))
    assert r.p_ttest == pytest.approx(2 * stats.t.sf(abs(t), len(d) - 1))
    boot = stats.bootstrap((d,), np.mean, n_resamples=sig.RESAMPLES, method="BCa", batch=200,
                           rng=np.random.default_rng(sig.BOOT_SEED)).confidence_interval
    assert (r.ci_low, r.ci_high) == pytest.approx((boot.low, boot.high))
    assert r.ci_low < r.diff < r.ci_high
    assert sig.paired(A, B) == r  # reproducible: the bootstrap is seeded


def test_identical_and_shifted_vectors():
    same = sig.paired(A, A)
    assert same.diff == 0 and same.p_wilcoxon == 1.0 and same.p_ttest == 1.0 and same.ci_low == same.ci_high == 0
    shifted = sig.paired(A + 0.1, A)  # every user 0.1 better
    assert shifted.diff == pytest.approx(0.1) and shifted.ci_low == pytest.approx(0.1)
    assert shifted.ci_high == pytest.approx(0.1)
    assert shifted.p_ttest < 1e-10 and shifted.p_wilcoxon == pytest.approx(2 / 2 ** 10)  # all 10 signs agree
    with pytest.raises(ValueError):
        sig.paired(A, B[:5])


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 (m = 3): 3 x 0.01, max(0.03, 2 x 0.03), max(0.06, 1 x 0.04)
    assert sig.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert sig.holm([0.5, 0.001]) == pytest.approx([0.5, 0.002])
    assert sig.holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1 (2 x 0.6), monotone
    out = sig.holm([0.02, math.nan, 0.01])
    assert math.isnan(out[1]) and out[0] == pytest.approx(0.02) and out[2] == pytest.approx(0.02)


def test_against_best_corrects_across_models():
    rng = np.random.default_rng(4)
    best = rng.random(200)
    per_user = {"best": best, "close": best - rng.normal(0.0, 0.05, 200) * 0.2,
                "worse": np.clip(best - 0.2 + rng.normal(0, 0.05, 200), 0, None)}
    res = sig.against_best(per_user, "best")
    assert set(res) == {"close", "worse"}
    raw_w = [res[m].test.p_wilcoxon for m in ("close", "worse")]
    assert [res[m].p_wilcoxon_holm for m in ("close", "worse")] == pytest.approx(sig.holm(raw_w))
    assert res["worse"].significant and res["worse"].test.diff < 0 and sig.mark(res["worse"]) == "*"
    assert not res["close"].significant and sig.mark(res["close"]) == "ns" and sig.mark(None) == ""
