"""engine.optim.AdamW against torch.optim.AdamW: the same update, the same state layout."""
from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import torch

from engine.optim import AdamW


def net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(30, 20), torch.nn.Tanh(), torch.nn.Linear(20, 10))


def train(model, opt, steps=8, seed=1):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        opt.zero_grad()
        model(torch.randn(6, 30, generator=gen)).pow(2).mean().backward()
        opt.step()


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_fused_update_is_torch_fused_adamw_bit_for_bit(weight_decay):
    a, b = net(), net()
    train(a, torch.optim.AdamW(a.parameters(), lr=0.01, weight_decay=weight_decay, fused=True))
    ours = AdamW(b.parameters(), lr=0.01, weight_decay=weight_decay)
    train(b, ours)
    assert ours.fused
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_plain_fallback_matches_torch_adamw():
    a, b = net(), net()
    train(a, torch.optim.AdamW(a.parameters(), lr=0.01, weight_decay=0.1))
    ours = AdamW(b.parameters(), lr=0.01, weight_decay=0.1)
    ours.fused = False  # as on a device without the fused kernel
    train(b, ours)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_state_dict_loads_both_ways_with_torch_optim():
    a, b = net(), net()
    theirs = torch.optim.AdamW(a.parameters(), lr=0.01, fused=True)
    ours = AdamW(b.parameters(), lr=0.01)
    train(a, theirs, steps=3)
    train(b, ours, steps=3)
    # resume each from the other's state (copied, as a resume file does): both continue
    # exactly as without the swap
    a2, b2 = copy.deepcopy(a), copy.deepcopy(b)
    ours2 = AdamW(a2.parameters(), lr=0.01)
    ours2.load_state_dict(copy.deepcopy(theirs.state_dict()))
    theirs2 = torch.optim.AdamW(b2.parameters(), lr=0.01)
    theirs2.load_state_dict(copy.deepcopy(ours.state_dict()))
    assert theirs2.param_groups[0]["fused"] and theirs2.param_groups[0]["decoupled_weight_decay"]
    for model, opt in ((a, theirs), (b, ours), (a2, ours2), (b2, theirs2)):
        train(model, opt, steps=3, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), a2.parameters()))
    assert all(torch.equal(p, q) for p, q in zip(b.parameters(), b2.parameters()))
    assert float(ours2.state[0]["step"]) == 6.0


def test_a_state_of_another_model_is_refused():
    ours = AdamW(net().parameters(), lr=0.01)
    other = AdamW(torch.nn.Linear(3, 3).parameters(), lr=0.01)
    with pytest.raises(ValueError, match="does not match"):
        ours.load_state_dict(other.state_dict())


def test_training_never_imports_torch_dynamo():
    # torch.optim imports torch._dynamo on first use: seconds of every run's start-up
    code = ("import sys; from engine import config, data, trainer; "
            "cfg = config.resolve({'synthetic_users': 60, 'synthetic_items': 40, 'epochs': 1, 'device': 'cpu', "
            "'dims_dnn': [16], 'train_batch_size': 30, 'threads': 1}); "
            "list(trainer.fit(cfg, data.load(cfg))); print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
