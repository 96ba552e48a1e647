"""DiffRec's Gaussian diffusion over interaction vectors: forward noising, the training
loss with SNR reweighting and importance-sampled steps, and the reverse (denoising) pass."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from engine.models import schedule
from engine.models.denoiser import autocast_on

UNIFORM_SHARE = 0.001  # share of the step distribution kept uniform when importance sampling
TINY = 1e-300  # keeps the step distribution defined if every recorded loss is 0

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class DiffusionConfig:
    """The slice of a run's config the diffusion reads (the model sees nothing else)."""
    steps: int = 5
    noise_schedule: str = "linear"
    noise_scale: float = 0.001
    noise_min: float = 0.0005
    noise_max: float = 0.005
    beta_fixed: bool = True
    mean_type: str = "x0"
    reweight: bool = True
    history_num_per_term: int = 10

    @classmethod
    def of(cls, cfg: dict) -> "DiffusionConfig":
        return cls(**{f.name: cfg[f.name] for f in fields(cls)})


class GaussianDiffusion:
    def __init__(self, config: DiffusionConfig, device: torch.device | str = "cpu"):
        self.config = config
        self.steps = config.steps
        self.noise_scale = config.noise_scale
        self.mean_type = config.mean_type
        self.reweight = config.reweight
        self.history_len = config.history_num_per_term
        self.device = torch.device(device)
        self.loss_history = torch.zeros(self.steps, self.history_len, dtype=torch.float64, device=self.device)
        self.loss_count = torch.zeros(self.steps, dtype=torch.long, device=self.device)
        self._full = False
        if self.noise_scale > 0:
            c = schedule.coefficients(schedule.from_config(asdict(config)))
            as_t = lambda a: torch.tensor(a, dtype=torch.float32, device=self.device)  # noqa: E731
            self.betas = as_t(c.betas)
            self.alphas_cumprod = as_t(c.alphas_cumprod)
            self.alphas_cumprod_prev = as_t(c.alphas_cumprod_prev)
            self.sqrt_ac = as_t(c.alphas_cumprod ** 0.5)
            self.sqrt_one_minus_ac = as_t((1 - c.alphas_cumprod) ** 0.5)
            self.sqrt_recip_ac = as_t(c.alphas_cumprod ** -0.5)
            self.sqrt_recipm1_ac = as_t((1 / c.alphas_cumprod - 1) ** 0.5)
            self.post_coef1 = as_t(c.posterior_mean_coef1)
            self.post_coef2 = as_t(c.posterior_mean_coef2)
            self.post_log_var = as_t(c.posterior_log_variance_clipped)
            self._host = {k: [float(v) for v in np.asarray(a, dtype=np.float32)] for k, a in (
                ("post_coef1", c.posterior_mean_coef1), ("post_coef2", c.posterior_mean_coef2),
                ("sqrt_recip_ac", c.alphas_cumprod ** -0.5), ("sqrt_recipm1_ac", (1 / c.alphas_cumprod - 1) ** 0.5))}
            snr = c.snr
            # Weight of step t for x0-prediction: SNR(t-1) - SNR(t); step 0 gets 1.
            w = snr.copy()
            w[1:] = snr[:-1] - snr[1:]
            w[0] = 1.0
            self.snr_weight = as_t(w)
            # Weight of step t for eps-prediction, in float64 before the cast: 1 - abar_{t-1}
            # is ~1e-5 at step 1 with beta_fixed, which float32 resolves only to ~0.5%.
            ac, ac_prev = c.alphas_cumprod, c.alphas_cumprod_prev
            w_eps = (1 - ac) / np.maximum((1 - ac_prev) ** 2 * (1 - c.betas), 1e-300)
            w_eps[0] = 1.0
            self.eps_weight = as_t(w_eps)

    # ------------------------------------------------------------ forward process

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.sqrt_ac[t, None] * x0 + self.sqrt_one_minus_ac[t, None] * noise

    def sample_steps(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Steps for a batch and their inverse-probability factors (1 under uniform sampling)."""
        if self.histories_full():
            rms = (self.loss_history ** 2).mean(dim=1).sqrt()
            p = rms / rms.sum().clamp(min=TINY) * (1 - UNIFORM_SHARE) + UNIFORM_SHARE / self.steps
            t = torch.multinomial(p, n, replacement=True)
            return t, (p[t] * self.steps).float()
        t = torch.randint(0, self.steps, (n,), device=self.device)
        return t, torch.ones(n, device=self.device)

    def histories_full(self) -> bool:
        """Has every step `history_len` losses? Read from the device only while filling (the
        first few batches): once full, always full."""
        if not self._full:
            self._full = bool((self.loss_count == self.history_len).all())
        return self._full

    def training_loss(self, model: Denoiser, x0: torch.Tensor) -> torch.Tensor:
        """Mean loss of a batch; also records each sample's loss in the step's history."""
        t, pt = self.sample_steps(x0.shape[0])
        noise = torch.randn_like(x0)
        x_t = self.q_sample(x0, t, noise) if self.noise_scale > 0 else x0
        out = model(x_t, t)
        target = x0 if self.mean_type == "x0" else noise
        mse = F.mse_loss(out, target, reduction="none").mean(dim=1)  # one fused pass each way
        loss = mse
        if self.reweight and self.noise_scale > 0:
            if self.mean_type == "x0":
                loss = self.snr_weight[t] * mse
            else:
                w = self.eps_weight[t]
                x0_hat = self.predict_x0_from_eps(x_t, t, out)
                nll = ((x0 - x0_hat) ** 2 / 2.0).mean(dim=1)
                loss = w * torch.where(t == 0, nll, mse)
        self.record(t, loss.detach())
        return (loss / pt).mean()

    def record(self, t: torch.Tensor, loss: torch.Tensor) -> None:
        """Append each sample's loss to its step's history (the newest `history_len` kept),
        in batch order, without a per-sample Python loop or a read back from the device."""
        steps, h = self.loss_history.shape
        n_new = torch.zeros(steps, dtype=torch.long, device=t.device).index_add_(0, t, torch.ones_like(t))
        order = torch.sort(t, stable=True).indices
        ts = t[order]
        first = torch.cumsum(n_new, 0) - n_new
        rank = torch.arange(len(t), device=t.device) - first[ts]  # position among same-step samples
        total = self.loss_count + n_new
        shift = (total - h).clamp(min=0)  # how many of the oldest entries fall out
        # Keep old entries that survive, moved left by `shift`; column h takes what falls out.
        src = torch.arange(h, device=t.device)[None, :] + shift[:, None]
        keep = src < self.loss_count[:, None]
        moved = torch.gather(self.loss_history, 1, src.clamp(max=h - 1))
        hist = torch.zeros((steps, h + 1), dtype=self.loss_history.dtype, device=t.device)
        hist[:, :h] = torch.where(keep, moved, 0.0)
        # New entries at their final slots; those pushed out by later ones of the batch go to
        # column h, as do non-finite ones (recorded as 0: the epoch fails on its mean loss, and
        # the sampler must not see NaN meanwhile).
        dest = self.loss_count[ts] + rank - shift[ts]
        new = loss[order].double()
        hist[ts, torch.where((dest >= 0) & torch.isfinite(new), dest, h)] = new
        self.loss_history = hist[:, :h].contiguous()
        self.loss_count = total.clamp(max=h)

    # ------------------------------------------------------------ reverse process

    def predict_x0_from_eps(self, x_t, t, eps):
        return self.sqrt_recip_ac[t, None] * x_t - self.sqrt_recipm1_ac[t, None] * eps

    def p_mean(self, model: Denoiser, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = model(x_t, t)
        x0_hat = out if self.mean_type == "x0" else self.predict_x0_from_eps(x_t, t, out)
        return self.post_coef1[t, None] * x0_hat + self.post_coef2[t, None] * x_t

    @torch.no_grad()
    def denoise(self, model: Denoiser, x0: torch.Tensor, sampling_steps: int = 0,
                sampling_noise: bool = False, trajectory: list | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Run the reverse process from x0 (optionally noised `sampling_steps` forward) through
        all `steps` steps. If `trajectory` is a list, the vector after each step is appended."""
        x = x0
        if sampling_steps > 0 and self.noise_scale > 0:
            t = torch.full((x0.shape[0],), sampling_steps - 1, device=x0.device, dtype=torch.long)
            x = self.q_sample(x0, t, torch.randn(x0.shape, generator=generator, device=x0.device))
        fast = hasattr(model, "at_step") and not autocast_on(x.device.type)
        if fast and trajectory is None and self.folds(model, x.shape[0], sampling_noise):
            return model.reverse(x, self.reverse_updates())
        spare = None  # the previous step's buffer, written again by the next step
        for i in reversed(range(self.steps)):
            t = torch.full((x.shape[0],), i, device=x.device, dtype=torch.long)
            if fast:
                new = model.at_step(x, i, out=spare)
                if self.noise_scale > 0:
                    new = self._posterior_mean_(new, x, i, in_place=x is not x0)
            else:
                new = model(x, t) if self.noise_scale == 0 else self.p_mean(model, x, t)
            if sampling_noise and i > 0 and self.noise_scale > 0:
                noise = torch.randn(x.shape, generator=generator, device=x.device)
                new = new + torch.exp(0.5 * self.post_log_var[t, None]) * noise
            spare = x if fast and x is not x0 and new is not x else None
            x = new
            if trajectory is not None:
                trajectory.append(x.float().clone())
        return x

    def folds(self, model, rows: int | None = None, sampling_noise: bool = False) -> bool:
        """May `denoise` run `model` folded (Denoiser.reverse) for a batch of `rows` (None: a
        batch big enough)? Not with sampling noise, which each step's vector draws, nor where
        folding does not pay (Denoiser.folds); denoise also needs no autocast and no trajectory."""
        noisy = sampling_noise and self.noise_scale > 0
        return hasattr(model, "folds") and not noisy and model.folds(None if rows is None else rows * self.steps)

    def reverse_updates(self) -> list[tuple[int, float, float]]:
        """The reverse process without noise as x <- a * model(x, t) + c * x, one (t, a, c)
        per step in the order they run (Denoiser.reverse): p_mean's coefficients, for eps
        with x0_hat = sqrt(1/abar) x - sqrt(1/abar - 1) eps worked in."""
        if self.noise_scale == 0:
            return [(i, 1.0, 0.0) for i in reversed(range(self.steps))]
        c = self._host
        if self.mean_type == "x0":
            return [(i, c["post_coef1"][i], c["post_coef2"][i]) for i in reversed(range(self.steps))]
        return [(i, -c["post_coef1"][i] * c["sqrt_recipm1_ac"][i],
                 c["post_coef1"][i] * c["sqrt_recip_ac"][i] + c["post_coef2"][i]) for i in reversed(range(self.steps))]

    def _posterior_mean_(self, out: torch.Tensor, x_t: torch.Tensor, i: int, in_place: bool) -> torch.Tensor:
        """p_mean at a fixed step from the model's output, written into `out` (and x_t, when
        `in_place`); the same roundings as p_mean. Coefficients come from host copies, so a
        GPU never waits for a read back."""
        c = self._host
        if self.mean_type != "x0":  # x0_hat = sqrt(1/abar) x_t - sqrt(1/abar - 1) eps
            out = torch.mul(x_t, c["sqrt_recip_ac"][i]).sub_(out.mul_(c["sqrt_recipm1_ac"][i]))
        scaled = x_t.mul_(c["post_coef2"][i]) if in_place else torch.mul(x_t, c["post_coef2"][i])
        return out.mul_(c["post_coef1"][i]).add_(scaled)

    # ------------------------------------------------------------ state for resume

    def state_dict(self) -> dict:
        return {"loss_history": self.loss_history.cpu(), "loss_count": self.loss_count.cpu()}

    def load_state_dict(self, state: dict) -> None:
        self.loss_history = state["loss_history"].to(self.device)
        self.loss_count = state["loss_count"].to(self.device)
        self._full = False
