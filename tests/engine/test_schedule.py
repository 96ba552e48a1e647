"""Noise schedules and posterior coefficients against closed forms written here, in plain
Python, from the DDPM / DiffRec definitions (independently of engine/models/schedule.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine.models import schedule
from engine.config import schema as config

SETTINGS = [  # (steps, scale, noise_min, noise_max)
    (5, 0.001, 0.0005, 0.005),  # RecBole's defaults
    (40, 0.005, 0.005, 0.01),  # the paper's ml-1m_clean
    (5, 0.5, 0.001, 0.01),  # the paper's ml-1m_noisy
    (100, 0.1, 0.001, 0.02),
    (1, 0.1, 0.001, 0.02),
]


def linspace(a, b, n):
    return [a] if n == 1 else [a + (b - a) * i / (n - 1) for i in range(n)]


def expected_betas(kind, T, scale, lo, hi, fixed):
    if kind == "linear":
        out = linspace(scale * lo, scale * hi, T)
    elif kind == "linear-var":
        one_minus_abar = linspace(scale * lo, scale * hi, T)
        abar = [1 - v for v in one_minus_abar]
        out = [1 - abar[0]] + [min(1 - abar[t] / abar[t - 1], 0.999) for t in range(1, T)]
    elif kind == "cosine":
        s = 0.008
        f = lambda t: math.cos(((t / T) + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
        out = [min(1 - f(t) / f(t - 1), 0.999) for t in range(1, T + 1)]
    elif kind == "binomial":
        out = [1 / (T - i + 1) for i in range(T)]  # DiffRec's code: 1/(T - t + 1) for t = 0..T-1
    if fixed:
        out[0] = 1e-5
    return out


@pytest.mark.parametrize("kind", ["linear", "linear-var", "cosine", "binomial"])
@pytest.mark.parametrize("fixed", [False, True])
@pytest.mark.parametrize("T, scale, lo, hi", SETTINGS)
def test_betas_match_closed_form(kind, fixed, T, scale, lo, hi):
    got = schedule.betas(kind, T, scale, lo, hi, beta_fixed=fixed)
    assert got.shape == (T,) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected_betas(kind, T, scale, lo, hi, fixed), rtol=1e-12, atol=1e-15)


def test_linear_var_makes_one_minus_alpha_bar_linear():
    b = schedule.betas("linear-var", 40, 0.005, 0.005, 0.01, beta_fixed=False)
    np.testing.assert_allclose(1 - np.cumprod(1 - b), linspace(0.005 * 0.005, 0.005 * 0.01, 40), rtol=1e-10)


def test_cosine_clips_the_last_beta():
    b = schedule.betas("cosine", 10, 1.0, 0.0, 1.0, beta_fixed=False)
    assert b[-1] == pytest.approx(0.999)
    assert np.all(np.diff(b) > 0)


def test_unknown_schedule_is_rejected():
    with pytest.raises(ValueError):
        schedule.betas("quadratic", 5, 0.1, 0.001, 0.01)


def expected_posterior(betas):
    """The brief's closed forms: mean coefficients, variance, and SNR-difference weights."""
    T = len(betas)
    alphas = [1 - b for b in betas]
    abar = []
    acc = 1.0
    for a in alphas:
        acc *= a
        abar.append(acc)
    prev = [1.0] + abar[:-1]
    coef1 = [betas[t] * math.sqrt(prev[t]) / (1 - abar[t]) for t in range(T)]
    coef2 = [(1 - prev[t]) * math.sqrt(alphas[t]) / (1 - abar[t]) for t in range(T)]
    var = [betas[t] * (1 - prev[t]) / (1 - abar[t]) for t in range(T)]
    snr = [a / (1 - a) for a in abar]
    weight = [1.0] + [snr[t - 1] - snr[t] for t in range(1, T)]
    return abar, prev, coef1, coef2, var, weight


@pytest.mark.parametrize("kind", ["linear", "linear-var", "cosine", "binomial"])
@pytest.mark.parametrize("T, scale, lo, hi", SETTINGS[:4])
def test_posterior_coefficients(kind, T, scale, lo, hi):
    b = expected_betas(kind, T, scale, lo, hi, True)
    abar, prev, coef1, coef2, var, _ = expected_posterior(b)
    c = schedule.coefficients(np.array(b))
    np.testing.assert_allclose(c.alphas_cumprod, abar, rtol=1e-12)
    np.testing.assert_allclose(c.alphas_cumprod_prev, prev, rtol=1e-12)
    np.testing.assert_allclose(c.posterior_mean_coef1, coef1, rtol=1e-10)
    np.testing.assert_allclose(c.posterior_mean_coef2, coef2, rtol=1e-10)
    np.testing.assert_allclose(c.posterior_variance, var, rtol=1e-10, atol=1e-300)
    # The first variance is 0; its log is clipped to the second one's.
    np.testing.assert_allclose(c.posterior_log_variance_clipped, np.log([var[1]] + var[1:]), rtol=1e-10)
    np.testing.assert_allclose(c.snr, [a / (1 - a) for a in abar], rtol=1e-10)


@pytest.mark.parametrize("T, scale, lo, hi", SETTINGS[:4])
def test_posterior_is_the_bayes_product_of_prior_and_likelihood(T, scale, lo, hi):
    """q(x_{t-1} | x_t, x0) from N(sqrt(abar_{t-1}) x0, 1 - abar_{t-1}) x N(x_t; sqrt(alpha_t) x_{t-1}, beta_t)."""
    b = expected_betas("linear-var", T, scale, lo, hi, True)
    c = schedule.coefficients(np.array(b))
    for t in range(1, T):  # index t is step t+1; step 1's prior is a point mass
        abar_prev = c.alphas_cumprod_prev[t]
        precision = 1 / (1 - abar_prev) + (1 - b[t]) / b[t]
        var = 1 / precision
        assert c.posterior_variance[t] == pytest.approx(var, rel=1e-9)
        assert c.posterior_mean_coef1[t] == pytest.approx(var * math.sqrt(abar_prev) / (1 - abar_prev), rel=1e-9)
        assert c.posterior_mean_coef2[t] == pytest.approx(var * math.sqrt(1 - b[t]) / b[t], rel=1e-9)
    assert c.posterior_mean_coef1[0] == pytest.approx(1.0) and c.posterior_mean_coef2[0] == 0.0


def test_from_config_and_preview():
    cfg = config.resolve({"noise_schedule": "linear-var", "steps": 40, "noise_scale": 0.005,
                          "noise_min": 0.005, "noise_max": 0.01, "beta_fixed": False})
    b, one_minus_abar = schedule.preview(cfg)
    np.testing.assert_allclose(b, expected_betas("linear-var", 40, 0.005, 0.005, 0.01, False), rtol=1e-12)
    np.testing.assert_allclose(one_minus_abar, linspace(0.005 * 0.005, 0.005 * 0.01, 40), rtol=1e-10)
    cfg["beta_fixed"] = True
    assert schedule.from_config(cfg)[0] == 1e-5


def test_zero_noise_scale_means_no_noise():
    cfg = config.resolve({"noise_scale": 0.0, "steps": 7})
    b, one_minus_abar = schedule.preview(cfg)
    assert b.shape == (7,) and not b.any() and not one_minus_abar.any()
