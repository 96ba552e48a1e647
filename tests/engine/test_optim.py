"""RecBole's training keys: learner, clip_grad_norm, enable_amp, reproducibility, shuffle,
valid_metric_bigger, eval_batch_size (in scores), gpu_id/use_gpu on a machine without a GPU;
and engine.models.optim.AdamW (the default learner) against torch.optim.AdamW: the same update,
the same state layout."""
from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest
import torch

from engine.models import registry as methods
from engine.models import optim
from engine.data import loaders as data
from engine.training import evaluation
from engine.training import trainer
from engine.config import schema as config


@pytest.mark.parametrize("learner, cls", [("adam", torch.optim.Adam), ("AdamW", optim.AdamW),
                                          ("sgd", torch.optim.SGD), ("adagrad", torch.optim.Adagrad),
                                          ("rmsprop", torch.optim.RMSprop)])
def test_learner_picks_the_optimizer_of_every_model(tiny_config, learner, cls):
    cfg = tiny_config(learner=learner, learning_rate=0.01, weight_decay=0.001)
    ds = data.load(cfg)
    for model in ("DiffRec", "LDiffRec", "MultiVAE"):
        method = methods.build({**cfg, "model": model}, ds, torch.device("cpu"))
        opts = method.optimizers()
        assert opts and all(type(o) is cls for o in opts), model
        assert all(g["weight_decay"] == 0.001 for o in opts for g in o.param_groups)


def test_default_learner_is_adamw():
    assert config.defaults()["learner"] == "adamw"


def test_clip_grad_norm_bounds_the_update():
    torch.manual_seed(0)
    layer = torch.nn.Linear(50, 50)
    cfg = {**config.defaults(), "learner": "sgd", "learning_rate": 1.0,
           "clip_grad_norm": {"max_norm": 0.5, "norm_type": 2}}
    before = [p.detach().clone() for p in layer.parameters()]
    opt = optim.make(layer.parameters(), cfg)
    update = optim.Update(cfg, torch.device("cpu"))
    loss = (layer(torch.randn(64, 50)) * 100).pow(2).mean()
    update.step(loss, [opt], layer.parameters())
    step = torch.cat([(p.detach() - b).flatten() for p, b in zip(layer.parameters(), before)])
    assert step.norm().item() == pytest.approx(0.5, rel=1e-4)  # SGD, lr 1: the clipped gradient itself


def test_enable_amp_trains_under_autocast_on_cpu(tiny_config):
    cfg = tiny_config(enable_amp=True, epochs=1)
    ds = data.load(cfg)
    method = methods.build(cfg, ds, torch.device("cpu"))
    seen = []
    method.module.register_forward_hook(lambda m, i, out: seen.append(torch.is_autocast_enabled("cpu")))
    loss = method.train_batch(evaluation.dense_rows(ds.train_matrix(), np.arange(50), torch.device("cpu")))
    assert np.isfinite(loss) and seen == [True]


def _fit(cfg):
    return list(trainer.fit(cfg, data.load(cfg)))


def test_valid_metric_bigger_false_keeps_the_lowest(tiny_config):
    events = _fit(tiny_config(valid_metric_bigger=False, epochs=6, eval_step=1, stopping_step=20))
    evals = [e for e in events if e["type"] == "eval"]
    lowest = min(evals, key=lambda e: e["valid"]["recall@20"])
    assert events[-1]["best_epoch"] == lowest["epoch"]
    assert events[-1]["valid"] == lowest["valid"]


def test_shuffle_false_trains_users_in_order(tiny_config, monkeypatch):
    orders = []
    real = trainer.train_epoch
    monkeypatch.setattr(trainer, "train_epoch", lambda m, t, order, *a, **k: orders.append(order) or real(m, t, order, *a, **k))
    _fit(tiny_config(shuffle=False, epochs=2))
    _fit(tiny_config(epochs=2))
    assert all((o == np.arange(len(o))).all() for o in orders[:2])
    assert not (orders[2] == np.arange(len(orders[2]))).all()


def test_reproducibility_sets_cudnn_determinism():
    trainer.seed_everything(1, reproducibility=False)
    assert torch.backends.cudnn.benchmark and not torch.backends.cudnn.deterministic
    trainer.seed_everything(1)
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark


def test_eval_batch_size_counts_scores_as_recbole():
    cfg = config.resolve({"eval_batch_size": 4096})
    assert evaluation.eval_batch_size(cfg, 1682) == 2  # RecBole: 4096 // item_num users a batch
    assert evaluation.eval_batch_size(cfg, 10_000) == 1
    # 0 = auto (issue 13): on a CPU a batch of scores stays cache-sized, far below glibc's
    # 32 MB mmap threshold; on a GPU 2^27 scores
    auto = config.resolve({})
    assert evaluation.eval_batch_size(auto, 1 << 10) == evaluation.CPU_EVAL_BATCH_BYTES // (4 << 10)
    assert evaluation.eval_batch_size(auto, 1 << 10) * (4 << 10) < 32 << 20
    assert evaluation.eval_batch_size(auto, 1 << 10, "cuda") == (1 << 27) >> 10


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")
def test_use_gpu_true_means_the_cpu_without_a_gpu(tiny_config):
    cfg = tiny_config(device="auto", use_gpu=True, gpu_id="0", epochs=1)
    assert _fit(cfg)[0]["device"] == "cpu"
    with pytest.raises(config.ConfigError, match="CUDA is not available"):
        trainer.select_device("cuda", 0)


# ------------------------------------------------------------------ engine.models.optim.AdamW

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
    ours = optim.AdamW(b.parameters(), lr=0.01, weight_decay=weight_decay)
    train(b, ours)
    assert ours.fused
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_plain_fallback_matches_torch_adamw():
    a, b = net(), net()
    train(a, torch.optim.AdamW(a.parameters(), lr=0.01, weight_decay=0.1))
    ours = optim.AdamW(b.parameters(), lr=0.01, weight_decay=0.1)
    ours.fused = False  # as on a device without the fused kernel
    train(b, ours)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_state_dict_loads_both_ways_with_torch_optim():
    a, b = net(), net()
    theirs = torch.optim.AdamW(a.parameters(), lr=0.01, fused=True)
    ours = optim.AdamW(b.parameters(), lr=0.01)
    train(a, theirs, steps=3)
    train(b, ours, steps=3)
    # resume each from the other's state (copied, as a resume file does): both continue
    # exactly as without the swap
    a2, b2 = copy.deepcopy(a), copy.deepcopy(b)
    ours2 = optim.AdamW(a2.parameters(), lr=0.01)
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
    ours = optim.AdamW(net().parameters(), lr=0.01)
    other = optim.AdamW(torch.nn.Linear(3, 3).parameters(), lr=0.01)
    with pytest.raises(ValueError, match="does not match"):
        ours.load_state_dict(other.state_dict())


def test_training_never_imports_torch_dynamo():
    # torch.optim imports torch._dynamo on first use: seconds of every run's start-up
    code = ("import sys; from engine.config import schema as config; from engine.data import loaders as data; from engine.training import trainer; "
            "cfg = config.resolve({'synthetic_users': 60, 'synthetic_items': 40, 'epochs': 1, 'device': 'cpu', "
            "'dims_dnn': [16], 'train_batch_size': 30, 'threads': 1}); "
            "list(trainer.fit(cfg, data.load(cfg))); print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
