"""Noise schedules and their derived coefficients, in NumPy float64.

Kept free of torch so the app can preview a schedule without importing it; the
diffusion process converts these arrays to tensors once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_BETA = 0.999


def betas(schedule: str, steps: int, scale: float, noise_min: float, noise_max: float,
          beta_fixed: bool = True) -> np.ndarray:
    """beta_1..beta_T for one of DiffRec's four schedules."""
    lo, hi = scale * noise_min, scale * noise_max
    if schedule == "linear":
        out = np.linspace(lo, hi, steps, dtype=np.float64)
    elif schedule == "linear-var":
        out = _from_alpha_bar(1.0 - np.linspace(lo, hi, steps, dtype=np.float64))
    elif schedule == "cosine":
        t = np.arange(steps + 1, dtype=np.float64) / steps
        out = _from_alpha_bar(np.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2, first=False)
    elif schedule == "binomial":
        out = 1.0 / (steps - np.arange(steps, dtype=np.float64) + 1)
    else:
        raise ValueError(f"unknown noise_schedule {schedule!r}")
    if beta_fixed:
        out = out.copy()
        out[0] = 1e-5  # keeps the first step close to the clean input
    return out


def _from_alpha_bar(alpha_bar: np.ndarray, first: bool = True) -> np.ndarray:
    """betas whose cumulative product of (1 - beta) follows alpha_bar.

    first=True: alpha_bar[0] is the value after step 1 (beta_1 = 1 - alpha_bar[0]).
    first=False: alpha_bar holds T+1 values starting at t=0 (the cosine schedule's form).
    """
    if first:
        ratio = alpha_bar[1:] / alpha_bar[:-1]
        return np.concatenate([[1.0 - alpha_bar[0]], np.minimum(1.0 - ratio, MAX_BETA)])
    return np.minimum(1.0 - alpha_bar[1:] / alpha_bar[:-1], MAX_BETA)


@dataclass(frozen=True)
class Coefficients:
    """Every per-step quantity the forward and reverse processes use (index t = step t+1)."""
    betas: np.ndarray
    alphas_cumprod: np.ndarray
    alphas_cumprod_prev: np.ndarray
    posterior_variance: np.ndarray
    posterior_log_variance_clipped: np.ndarray
    posterior_mean_coef1: np.ndarray  # multiplies the predicted x0
    posterior_mean_coef2: np.ndarray  # multiplies x_t

    @property
    def snr(self) -> np.ndarray:
        return self.alphas_cumprod / (1.0 - self.alphas_cumprod)


def coefficients(b: np.ndarray) -> Coefficients:
    alphas = 1.0 - b
    ac = np.cumprod(alphas)
    ac_prev = np.concatenate([[1.0], ac[:-1]])
    post_var = b * (1.0 - ac_prev) / (1.0 - ac)
    # The first posterior variance is 0; clip the log with the second one.
    clipped = np.log(np.concatenate([post_var[1:2], post_var[1:]])) if len(b) > 1 else np.log(np.maximum(post_var, 1e-20))
    return Coefficients(
        betas=b,
        alphas_cumprod=ac,
        alphas_cumprod_prev=ac_prev,
        posterior_variance=post_var,
        posterior_log_variance_clipped=clipped,
        posterior_mean_coef1=b * np.sqrt(ac_prev) / (1.0 - ac),
        posterior_mean_coef2=(1.0 - ac_prev) * np.sqrt(alphas) / (1.0 - ac),
    )


def from_config(cfg: dict) -> np.ndarray:
    if cfg["noise_scale"] == 0:  # no forward noise at all: the model is a plain denoiser
        return np.zeros(cfg["steps"])
    return betas(cfg["noise_schedule"], cfg["steps"], cfg["noise_scale"], cfg["noise_min"],
                 cfg["noise_max"], cfg["beta_fixed"])


def preview(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """(beta_t, 1 - alpha_bar_t) over steps 1..T, for the editor's live chart."""
    b = from_config(cfg)
    return b, 1.0 - np.cumprod(1.0 - b)
