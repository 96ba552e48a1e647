"""GaussianDiffusion: the loss-history update against a per-sample loop, importance sampling,
the training loss (x0 / eps, SNR reweighting, noise_scale 0) and the reverse process."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.models import schedule
from engine.config import schema as config
from engine.models.diffusion import UNIFORM_SHARE, DiffusionConfig, GaussianDiffusion
from engine.models.denoiser import Denoiser, step_embedding


def make(**raw) -> GaussianDiffusion:
    return GaussianDiffusion(DiffusionConfig.of(config.resolve(raw)), "cpu")


# ------------------------------------------------------------------ loss history

def reference_record(hist: torch.Tensor, count: torch.Tensor, ts, losses):
    """DiffRec's per-sample update: append while not full, else drop the oldest."""
    hist, count = hist.clone(), count.clone()
    h = hist.shape[1]
    for t, loss in zip(ts.tolist(), losses.tolist()):
        if count[t] == h:
            hist[t, :-1] = hist[t, 1:].clone()
            hist[t, -1] = loss
        else:
            hist[t, count[t]] = loss
            count[t] += 1
    return hist, count


def test_record_matches_a_per_sample_loop():
    gen = torch.Generator().manual_seed(0)
    d = make(steps=6, history_num_per_term=4)
    batches = [
        torch.tensor([2, 2, 2]),  # partly fills one step
        torch.tensor([0]),
        torch.tensor([2] * 10 + [1, 1, 5]),  # more than history_len samples of one step
        torch.randint(0, 6, (7,), generator=gen),
        torch.randint(0, 3, (25,), generator=gen),  # some steps absent from the batch
        torch.randint(0, 6, (50,), generator=gen),
        torch.tensor([4, 3, 4, 3, 4, 3, 4, 3, 4]),
    ]
    hist, count = d.loss_history.clone(), d.loss_count.clone()
    for ts in batches:
        losses = torch.rand(len(ts), generator=gen)
        hist, count = reference_record(hist, count, ts, losses.double())
        d.record(ts, losses)
        assert torch.equal(d.loss_count, count)
        assert torch.equal(d.loss_history, hist)
    assert (count == 4).all()


def test_record_random_batches_many_rounds():
    gen = torch.Generator().manual_seed(1)
    d = make(steps=10, history_num_per_term=10)
    hist, count = d.loss_history.clone(), d.loss_count.clone()
    for _ in range(30):
        n = int(torch.randint(1, 40, (1,), generator=gen))
        high = int(torch.randint(1, 11, (1,), generator=gen))
        ts = torch.randint(0, high, (n,), generator=gen)
        losses = torch.rand(n, generator=gen) * 100
        hist, count = reference_record(hist, count, ts, losses.double())
        d.record(ts, losses)
        assert torch.equal(d.loss_count, count) and torch.equal(d.loss_history, hist)


# ------------------------------------------------------------------ importance sampling

def test_steps_are_uniform_until_every_history_is_full():
    d = make(steps=4, history_num_per_term=3)
    d.record(torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3]), torch.full((11,), 1000.0))  # step 3 one short
    torch.manual_seed(0)
    t, pt = d.sample_steps(4000)
    assert torch.equal(pt, torch.ones(4000))
    freq = torch.bincount(t, minlength=4).float() / 4000
    assert torch.allclose(freq, torch.full((4,), 0.25), atol=0.04)


def test_importance_sampling_follows_the_rms_of_the_history():
    d = make(steps=4, history_num_per_term=3)
    hist = torch.tensor([[1.0, 1.0, 1.0], [3.0, 4.0, 5.0], [0.1, 0.1, 0.1], [10.0, 0.0, 0.0]])
    for step in range(4):
        d.record(torch.full((3,), step), hist[step])
    rms = [math.sqrt(sum(v * v for v in row) / 3) for row in hist.tolist()]
    p = [r / sum(rms) * (1 - UNIFORM_SHARE) + UNIFORM_SHARE / 4 for r in rms]
    torch.manual_seed(0)
    t, pt = d.sample_steps(20000)
    freq = torch.bincount(t, minlength=4).double() / 20000
    np.testing.assert_allclose(freq.numpy(), p, atol=0.015)
    np.testing.assert_allclose(pt.numpy(), np.array(p)[t.numpy()] * 4, rtol=1e-5)


class Zero(torch.nn.Module):
    """A 'denoiser' that predicts 0, so the loss is a known function of x0 and the noise."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x, t):
        self.calls += 1
        return torch.zeros_like(x)


def expected_weights(cfg):
    c = schedule.coefficients(schedule.from_config(cfg))
    snr = c.alphas_cumprod / (1 - c.alphas_cumprod)
    return np.concatenate([[1.0], snr[:-1] - snr[1:]]), c


def test_x0_loss_is_snr_weighted_and_divided_by_pt(monkeypatch):
    raw = dict(steps=5, noise_scale=0.1, noise_min=0.001, noise_max=0.02, mean_type="x0", reweight=True)
    d = make(**raw)
    w, _ = expected_weights(config.resolve(raw))
    t = torch.tensor([0, 1, 4, 4, 2])
    pt = torch.tensor([0.5, 1.0, 2.0, 1.5, 1.0])
    monkeypatch.setattr(d, "sample_steps", lambda n: (t, pt))
    x0 = torch.rand(5, 7)
    loss = d.training_loss(Zero(), x0)
    mse = (x0.double() ** 2).mean(1).numpy()
    weighted = w[t.numpy()] * mse
    assert float(loss) == pytest.approx(float(np.mean(weighted / pt.numpy())), rel=1e-5)
    # The history holds the weighted loss, not the one divided by pt.
    for i, step in enumerate(t.tolist()):
        kept = d.loss_history[step, : int(d.loss_count[step])].tolist()
        assert any(v == pytest.approx(weighted[i], rel=1e-5) for v in kept)


def test_x0_loss_without_reweight_is_plain_mse(monkeypatch):
    d = make(steps=5, noise_scale=0.1, noise_min=0.001, noise_max=0.02, reweight=False)
    t = torch.tensor([0, 3, 4])
    monkeypatch.setattr(d, "sample_steps", lambda n: (t, torch.ones(3)))
    x0 = torch.rand(3, 6)
    assert float(d.training_loss(Zero(), x0)) == pytest.approx(float((x0 ** 2).mean()), rel=1e-5)


def test_eps_loss(monkeypatch):
    raw = dict(steps=5, noise_scale=0.1, noise_min=0.001, noise_max=0.02, mean_type="eps", reweight=True)
    d = make(**raw)
    _, c = expected_weights(config.resolve(raw))
    t = torch.tensor([0, 1, 2, 4])
    monkeypatch.setattr(d, "sample_steps", lambda n: (t, torch.ones(4)))
    x0 = torch.rand(4, 6)
    torch.manual_seed(3)
    loss = d.training_loss(Zero(), x0)
    torch.manual_seed(3)
    noise = torch.randn_like(x0).double()
    expected = []
    for i, s in enumerate(t.tolist()):
        abar, prev, beta = c.alphas_cumprod[s], c.alphas_cumprod_prev[s], c.betas[s]
        x_t = math.sqrt(abar) * x0[i].double() + math.sqrt(1 - abar) * noise[i]
        if s == 0:  # the likelihood term: x0 recovered from eps = 0
            x0_hat = x_t / math.sqrt(abar)
            expected.append(float(((x0[i].double() - x0_hat) ** 2 / 2).mean()))
        else:
            w = (1 - abar) / ((1 - prev) ** 2 * (1 - beta))
            expected.append(w * float((noise[i] ** 2).mean()))
    # float64 closed form vs the engine's float32: the step-1 weight (~1e6) must be exact to 1e-5.
    assert float(loss) == pytest.approx(np.mean(expected), rel=1e-5)


def test_zero_noise_scale_trains_a_plain_denoiser(monkeypatch):
    d = make(steps=5, noise_scale=0.0, reweight=True)
    seen = []

    def model(x, t):
        seen.append(x.clone())
        return torch.zeros_like(x)

    x0 = torch.rand(4, 6)
    loss = d.training_loss(model, x0)
    assert torch.equal(seen[0], x0)  # no forward noise at all
    assert float(loss) == pytest.approx(float((x0 ** 2).mean()), rel=1e-5)  # and no weights


def test_q_sample():
    raw = dict(steps=5, noise_scale=0.1, noise_min=0.001, noise_max=0.02)
    d = make(**raw)
    _, c = expected_weights(config.resolve(raw))
    x0, noise = torch.rand(3, 4), torch.randn(3, 4)
    t = torch.tensor([0, 2, 4])
    out = d.q_sample(x0, t, noise)
    for i, s in enumerate(t.tolist()):
        exp = math.sqrt(c.alphas_cumprod[s]) * x0[i] + math.sqrt(1 - c.alphas_cumprod[s]) * noise[i]
        assert torch.allclose(out[i], exp.float(), atol=1e-6)


# ------------------------------------------------------------------ reverse process

class Affine(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, x, t):
        self.calls.append(t.clone())
        return 0.5 * x + 0.01 * t[:, None].float()


@pytest.mark.parametrize("mean_type", ["x0", "eps"])
def test_denoise_runs_every_step_and_records_the_trajectory(mean_type):
    raw = dict(steps=6, noise_scale=0.1, noise_min=0.001, noise_max=0.02, mean_type=mean_type)
    d = make(**raw)
    _, c = expected_weights(config.resolve(raw))
    model = Affine()
    x0 = torch.rand(3, 5)
    trajectory = []
    out = d.denoise(model, x0, trajectory=trajectory)
    assert len(model.calls) == 6 and len(trajectory) == 6
    assert [int(t[0]) for t in model.calls] == [5, 4, 3, 2, 1, 0]
    assert torch.equal(trajectory[-1], out)
    x = x0.double()
    for i, s in enumerate(reversed(range(6))):
        pred = 0.5 * x + 0.01 * s
        if mean_type == "eps":
            pred = x / math.sqrt(c.alphas_cumprod[s]) - math.sqrt(1 / c.alphas_cumprod[s] - 1) * pred
        x = c.posterior_mean_coef1[s] * pred + c.posterior_mean_coef2[s] * x
        assert torch.allclose(trajectory[i].double(), x, rtol=1e-4, atol=1e-5)


def test_denoise_with_zero_noise_scale_applies_the_model_steps_times():
    d = make(steps=4, noise_scale=0.0)
    model = Affine()
    x0 = torch.rand(2, 3)
    traj = []
    out = d.denoise(model, x0, sampling_steps=2, sampling_noise=True, trajectory=traj)
    x = x0
    for s in reversed(range(4)):
        x = 0.5 * x + 0.01 * s
    assert len(model.calls) == 4 and len(traj) == 4
    assert torch.allclose(out, x)


def test_sampling_steps_noise_the_input_first():
    raw = dict(steps=5, noise_scale=0.1, noise_min=0.001, noise_max=0.02)
    d = make(**raw)
    seen = []

    def model(x, t):
        seen.append(x.clone())
        return x

    x0 = torch.rand(2, 4)
    d.denoise(model, x0, sampling_steps=3, generator=torch.Generator().manual_seed(5))
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(seen[0], d.q_sample(x0, torch.tensor([2, 2]), noise))
    seen.clear()
    d.denoise(model, x0, sampling_steps=0)
    assert torch.equal(seen[0], x0)


def test_sampling_noise_is_seeded_and_off_by_default():
    d = make(steps=5, noise_scale=0.1, noise_min=0.001, noise_max=0.02)
    model, x0 = Affine(), torch.rand(2, 4)
    plain = d.denoise(model, x0)
    assert torch.equal(plain, d.denoise(model, x0, generator=torch.Generator().manual_seed(9)))
    a = d.denoise(model, x0, sampling_noise=True, generator=torch.Generator().manual_seed(1))
    b = d.denoise(model, x0, sampling_noise=True, generator=torch.Generator().manual_seed(1))
    c = d.denoise(model, x0, sampling_noise=True, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, plain)


def test_state_dict_round_trip():
    d = make(steps=3, history_num_per_term=2)
    d.record(torch.tensor([0, 1, 1, 2]), torch.tensor([1.0, 2.0, 3.0, 4.0]))
    e = make(steps=3, history_num_per_term=2)
    e.load_state_dict(d.state_dict())
    assert torch.equal(e.loss_history, d.loss_history) and torch.equal(e.loss_count, d.loss_count)


# ------------------------------------------------------------------ the denoiser MLP

def test_denoiser_layers_mirror_dims_dnn():
    m = Denoiser(2810, [200, 600], emb_size=10, act="tanh", dropout=0.5)
    enc = [(layer.in_features, layer.out_features) for layer in m.encoder]
    dec = [(layer.in_features, layer.out_features) for layer in m.decoder]
    assert enc == [(2820, 600), (600, 200)]
    assert dec == [(200, 600), (600, 2810)]
    m.eval()
    assert m(torch.rand(3, 2810), torch.tensor([0, 1, 2])).shape == (3, 2810)


def test_step_embedding_is_sinusoidal():
    t = torch.tensor([0, 3, 7])
    emb = step_embedding(t, 10)
    freqs = [math.exp(-math.log(10000) * i / 5) for i in range(5)]
    for row, step in zip(emb.tolist(), t.tolist()):
        exp = [math.cos(step * f) for f in freqs] + [math.sin(step * f) for f in freqs]
        np.testing.assert_allclose(row, exp, atol=1e-5)
    assert step_embedding(t, 7).shape == (3, 7)
