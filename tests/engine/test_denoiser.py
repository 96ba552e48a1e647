"""The denoiser's fast paths against the plain formulation they replace: the first layer
without concatenation (values and gradients), the folded step bias at a fixed step, the
in-place reverse process, and the dropout mask drawn from the uniform kernel."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from engine.config import schema as config
from engine.models.diffusion import DiffusionConfig, GaussianDiffusion
from engine.models.denoiser import Denoiser, _uniform_mask_matches, dropout, step_embedding


def plain_forward(m: Denoiser, x, t):
    """The textbook model: cat([x, emb(t)]) through nn.Linear layers."""
    h = torch.cat([x, m.emb(step_embedding(t, m.emb_size))], dim=-1)
    for layer in m.encoder:
        h = m.act(layer(h))
    for i, layer in enumerate(m.decoder):
        h = layer(h)
        if i < len(m.decoder) - 1:
            h = m.act(h)
    return h


@pytest.fixture
def model():
    torch.manual_seed(0)
    return Denoiser(30, [8, 16], emb_size=6, dropout=0.0)


def test_forward_and_gradients_match_the_concatenated_layer(model):
    x, t = torch.rand(5, 30), torch.tensor([0, 3, 3, 1, 4])
    out = model(x, t)
    torch.testing.assert_close(out, plain_forward(model, x, t), rtol=1e-5, atol=1e-6)
    out.pow(2).sum().backward()
    ours = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    plain_forward(model, x, t).pow(2).sum().backward()
    for a, b in zip(ours, [p.grad for p in model.parameters()]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_at_step_is_the_eval_forward_with_the_step_as_a_bias(model):
    model.eval()
    x = torch.rand(7, 30)
    buf = torch.empty(7, 30)
    for step in (0, 2, 4):
        want = plain_forward(model, x, torch.full((7,), step))
        torch.testing.assert_close(model.at_step(x, step), want, rtol=1e-5, atol=1e-6)
        assert model.at_step(x, step, out=buf) is buf


@pytest.mark.parametrize("raw", [{}, {"mean_type": "eps"}, {"noise_scale": 0.0}, {"steps": 1}])
def test_fast_reverse_process_equals_the_generic_one(model, raw):
    model.eval()
    d = GaussianDiffusion(DiffusionConfig.of(config.resolve({"steps": 5, "noise_scale": 0.1, "noise_min": 0.001, "noise_max": 0.02, **raw})))
    x0 = torch.rand(6, 30)
    keep = x0.clone()
    traj_fast, traj_plain = [], []
    fast = d.denoise(model, x0, trajectory=traj_fast)
    plain = d.denoise(lambda x, t: model(x, t), x0, trajectory=traj_plain)  # no at_step: the generic loop
    assert torch.equal(x0, keep)  # the caller's input is never written
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)
    assert len(traj_fast) == len(traj_plain) == d.steps
    for a, b in zip(traj_fast, traj_plain):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_sampling_noise_draws_the_same_noise_in_both_paths(model):
    model.eval()
    d = GaussianDiffusion(DiffusionConfig.of(config.resolve({"steps": 4, "noise_scale": 0.1, "noise_min": 0.001, "noise_max": 0.02})))
    x0 = torch.rand(3, 30)
    a = d.denoise(model, x0, sampling_steps=2, sampling_noise=True, generator=torch.Generator().manual_seed(3))
    b = d.denoise(lambda x, t: model(x, t), x0, sampling_steps=2, sampling_noise=True,
                  generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("p", [0.5, 0.3, 0.0])
def test_dropout_is_torch_dropout_value_for_value(p):
    x = torch.randn(40, 53)
    torch.manual_seed(11)
    want = F.dropout(x, p, True)
    state = torch.get_rng_state()
    torch.manual_seed(11)
    got = dropout(x, p, True)
    if _uniform_mask_matches():  # this CPU's Bernoulli kernel draws like the uniform one
        assert torch.equal(got, want) and torch.equal(torch.get_rng_state(), state)
    assert ((got == 0) | torch.isclose(got, x / (1 - p))).all()
    assert torch.equal(dropout(x, p, False), x)
