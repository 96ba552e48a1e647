"""time-aware applies T-DiffRec's linear weights to the input of every model, in one place
(engine.data.dataset.model_input): what each model is fitted on, trains on and predicts from is
the weighted matrix, whichever model it is."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.config import schema as config_mod
from engine.data import loaders as data
from engine.data.dataset import model_input
from engine.models import registry as methods
from engine.training import trainer as trainer
from engine.models.baselines import ease_weights

MODELS = ["DiffRec", "LDiffRec", "Pop", "ItemKNN", "EASE", "MultiVAE"]


def tiny(model: str, **over) -> dict:
    return config_mod.resolve({"model": model, "data_format": "synthetic", "synthetic_users": 60,
                               "synthetic_items": 40, "synthetic_interactions": 8, "synthetic_clusters": 3,
                               "time-aware": True, "w_min": 0.2, "w_max": 0.9, "epochs": 1, "eval_step": 1,
                               "shuffle": False, "train_batch_size": 25, "eval_batch_size": 25 * 40,
                               "topk": [5], "metrics": ["Recall"], "valid_metric": "Recall@5", "threads": 1,
                               "device": "cpu", "dims_dnn": [16], "steps": 5, "mlp_hidden_size": [16],
                               "latent_dimension": 8, "in_dims": [16], "k": 5, **over})


def test_the_weighted_matrix_rises_linearly_per_user():
    cfg = tiny("EASE")
    ds = data.load(cfg)
    m = model_input(cfg, ds)
    for user in range(5):
        hist = ds.history(user)  # oldest first
        n = len(hist)
        want = 0.2 + 0.7 * np.arange(n) / max(n - 1, 1)
        assert np.allclose(m[user, hist].toarray().ravel(), want, atol=1e-6)
    assert model_input({**cfg, "time-aware": False}, ds).data.tolist() == [1.0] * m.nnz


class Spy:
    """A method whose every input is recorded (fit's matrix, train and predict batches)."""

    def __init__(self, inner, seen):
        self.inner, self.seen = inner, seen

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def fit(self, train):
        self.seen["fit"] = train.copy()
        return self.inner.fit(train)

    def train_batch(self, x):
        self.seen.setdefault("train", []).append(x.clone())
        return self.inner.train_batch(x)

    def predict(self, x, *args, **kw):
        self.seen.setdefault("predict", []).append(x.clone())
        return self.inner.predict(x, *args, **kw)


@pytest.mark.parametrize("model", MODELS)
def test_every_model_reads_the_weighted_matrix(model, monkeypatch):
    cfg = tiny(model)
    ds = data.load(cfg)
    weighted = torch.from_numpy(model_input(cfg, ds).toarray())
    seen: dict = {}
    build = methods.build
    monkeypatch.setattr(methods, "build", lambda c, d, dev: Spy(build(c, d, dev), seen))
    events = list(trainer.fit(cfg, ds))
    assert events[-1]["type"] == "finished"
    first_eval = torch.cat(seen["predict"])[: ds.n_users]  # the users in order, in batches
    assert torch.allclose(first_eval, weighted)
    if "fit" in seen:  # closed-form: fitted on the weighted matrix too, not a binary one
        assert np.allclose(seen["fit"].toarray(), weighted.numpy())
    else:
        assert torch.allclose(torch.cat(seen["train"])[: ds.n_users], weighted)  # shuffle off: users in order


def test_t_ease_is_ease_of_the_weighted_matrix():
    cfg = tiny("EASE", reg_weight=10.0)
    ds = data.load(cfg)
    method = methods.build(cfg, ds, torch.device("cpu"))
    method.fit(model_input(cfg, ds))
    want = ease_weights(model_input(cfg, ds), 10.0, torch.device("cpu"))
    binary = ease_weights(ds.train_matrix(), 10.0, torch.device("cpu"))
    assert torch.allclose(method.module.weight, want)
    assert not torch.allclose(want, binary, atol=1e-4)  # the weights change the model
