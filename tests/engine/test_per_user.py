"""Each run keeps its best checkpoint's per-user test metrics (per_user_test.npz); the file
is read back as untrusted input."""
from __future__ import annotations

import numpy as np
import pytest

from engine.config import schema as config_mod
from engine.data import loaders as data
from engine.records import per_user as per_user
from engine.errors import InputError
from engine.records.runs import RunDir
from engine.training.trainer import fit_into


def tiny(**over) -> dict:
    return config_mod.resolve({"model": "DiffRec", "data_format": "synthetic", "synthetic_users": 80,
                               "synthetic_items": 50, "synthetic_interactions": 10, "synthetic_clusters": 3,
                               "epochs": 4, "eval_step": 2, "topk": [5, 10], "metrics": ["Recall", "NDCG"],
                               "valid_metric": "Recall@10", "threads": 1, "device": "cpu", "dims_dnn": [16],
                               "steps": 5, "dataset": "tiny", **over})


def test_the_trainer_writes_the_best_evaluations_per_user_metrics(tmp_path):
    cfg = tiny()
    ds = data.load(cfg)
    run = RunDir.create(tmp_path, cfg)
    fit_into(run, cfg, ds)
    summary = run.summary()
    got = per_user.read(run.path)
    assert got.fingerprint == ds.fingerprint() and got.n_users == ds.n_users
    assert set(got.metrics) == {"recall@5", "ndcg@5", "recall@10", "ndcg@10"}
    for key, values in got.metrics.items():  # averages over all users are the summary's test metrics
        assert values.mean() == pytest.approx(summary["test"][key], abs=1e-6)


def write(tmp_path, **arrays):
    np.savez(tmp_path / per_user.FILE, **arrays)
    return tmp_path


@pytest.mark.parametrize("arrays, word", [
    ({"recall@10": np.ones(3, np.float32)}, "fingerprint"),
    ({"fingerprint": np.array("ab"), "recall@10": np.array([0.1, np.nan])}, "NaN"),
    ({"fingerprint": np.array("ab"), "recall@10": np.ones(3), "ndcg@10": np.ones(4)}, "users"),
    ({"fingerprint": np.array("ab"), "../x": np.ones(3)}, "not a per-user metric"),
    ({"fingerprint": np.array("ab")}, "no metrics"),
])
def test_a_damaged_file_is_a_clear_error(tmp_path, arrays, word):
    with pytest.raises(InputError, match=word):
        per_user.read(write(tmp_path, **arrays))


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="has no per_user_test.npz"):
        per_user.read(tmp_path)
    (tmp_path / per_user.FILE).write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="cannot be read"):
        per_user.read(tmp_path)
    obj = np.array([{"a": 1}], dtype=object)  # pickled objects are refused, never loaded
    np.savez(tmp_path / per_user.FILE, fingerprint=np.array("x"), **{"recall@10": obj})
    with pytest.raises(InputError):
        per_user.read(tmp_path)
