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


def step_by_step(model: Denoiser, x, updates):
    for step, a, c in updates:
        x = a * model.at_step(x, step) + c * x
    return x


@pytest.mark.parametrize("dims,layout,act", [([8, 16], "mirrored", "tanh"), ([12], "mirrored", "relu"),
                                             ([8, 16], "recbole", "sigmoid"), ([5, 9, 7], "recbole", "linear")])
def test_reverse_is_the_step_by_step_process_in_exact_arithmetic(dims, layout, act):
    """In float64 the folded recursion and the model run step by step agree to rounding
    (1e-10): a wrong fold, bias or coefficient would be off by far more."""
    torch.manual_seed(1)
    model = Denoiser(30, dims, emb_size=6, act=act, dropout=0.0, layout=layout).double().eval()
    x0 = (torch.rand(4, 30, dtype=torch.float64) < 0.3).double()
    updates = [(4, 0.9, 0.2), (3, 1.3, -0.4), (0, 0.5, 0.7)]
    torch.testing.assert_close(model.reverse(x0, updates), step_by_step(model, x0, updates), rtol=1e-10, atol=1e-12)
    assert torch.equal(model.reverse(x0, [(2, 1.0, 0.0)]), model.reverse(x0, [(2, 1.0, 0.0)]))


def test_reverse_follows_the_weights_as_they_change(model):
    """The folded products are kept between calls: after an optimizer step or a loaded
    state, reverse must use the new weights."""
    from engine.models import optim
    model.eval()
    x0, updates = torch.rand(3, 30), [(2, 0.8, 0.3), (1, 1.1, 0.1)]
    before = model.reverse(x0, updates)
    opt = optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.0)
    assert opt.fused  # its steps do not count in the weights' _version
    model.train()
    model(torch.rand(3, 30), torch.tensor([0, 1, 2])).pow(2).sum().backward()
    opt.step()
    model.eval()
    torch.testing.assert_close(model.reverse(x0, updates), step_by_step(model, x0, updates), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(model.reverse(x0, updates), before)
    fresh = Denoiser(30, [8, 16], emb_size=6, dropout=0.0).eval()
    model.load_state_dict(fresh.state_dict())
    torch.testing.assert_close(model.reverse(x0, updates), step_by_step(fresh, x0, updates), rtol=1e-5, atol=1e-6)


def test_denoise_folds_unless_each_step_is_wanted(model, monkeypatch):
    """Evaluation's reverse process is the folded one; a trajectory (the Inspector) or
    sampling noise needs every step's vector, so those run the model step by step."""
    model.eval()
    d = GaussianDiffusion(DiffusionConfig.of(config.resolve({"steps": 3, "noise_scale": 0.1, "noise_min": 0.001, "noise_max": 0.02})))
    calls = {"at_step": 0, "reverse": 0}
    for name in calls:
        real = getattr(model, name)
        monkeypatch.setattr(model, name, lambda *a, real=real, name=name, **k: calls.__setitem__(name, calls[name] + 1) or real(*a, **k))
    x0 = torch.rand(20, 30)
    d.denoise(model, x0)
    assert calls == {"at_step": 0, "reverse": 1}
    d.denoise(model, x0, trajectory=[])
    d.denoise(model, x0, sampling_noise=True, generator=torch.Generator().manual_seed(0))
    assert calls == {"at_step": 6, "reverse": 1}
    d.denoise(model, x0[:1])  # one user's three steps would not pay for working out the fold
    assert calls == {"at_step": 9, "reverse": 1}
    narrow = Denoiser(6, [40], emb_size=4, dropout=0.0).eval()  # 40 x 40 > 6 x 80: folding would cost more
    assert not narrow.folds() and model.folds()
    x = torch.rand(2, 6)
    torch.testing.assert_close(d.denoise(narrow, x), d.denoise(lambda x, t: narrow(x, t), x), rtol=1e-5, atol=1e-6)


def test_tanh_through_the_sigmoid_stays_within_2e_7_of_torchs():
    from engine.models.denoiser import _tanh_
    x = torch.linspace(-12, 12, 200001)
    assert (_tanh_(x.clone()) - torch.tanh(x)).abs().max() <= 2e-7


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
