"""RecBole's training keys: learner, clip_grad_norm, enable_amp, reproducibility, shuffle,
valid_metric_bigger, eval_batch_size (in scores), gpu_id/use_gpu on a machine without a GPU."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import config, data, methods, optim, trainer


@pytest.mark.parametrize("learner, cls", [("adam", torch.optim.Adam), ("AdamW", torch.optim.AdamW),
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
    loss = method.train_batch(trainer.dense_rows(ds.train_matrix(), np.arange(50), torch.device("cpu")))
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
    assert trainer.eval_batch_size(cfg, 1682) == 2  # RecBole: 4096 // item_num users a batch
    assert trainer.eval_batch_size(cfg, 10_000) == 1
    assert trainer.eval_batch_size(config.resolve({}), 1 << 10) == (1 << 25) >> 10  # 0 = auto


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")
def test_use_gpu_true_means_the_cpu_without_a_gpu(tiny_config):
    cfg = tiny_config(device="auto", use_gpu=True, gpu_id="0", epochs=1)
    assert _fit(cfg)[0]["device"] == "cpu"
    with pytest.raises(config.ConfigError, match="CUDA is not available"):
        trainer.select_device("cuda", 0)
