"""Ranking metrics against a plain per-user Python reference (the paper's definitions), masking,
and the evaluation pass (valid masks train; test masks train + valid; one scoring pass)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from engine.data import loaders as data
from engine.data import dataset
from engine.training import metrics
from engine.training import trainer
from engine.config import schema as config

NAMES = ["Recall", "NDCG", "Precision", "MRR", "Hit"]


def reference_metric(name: str, ranked: list[int], held_out: set[int], k: int) -> float:
    if not held_out:
        return 0.0  # a user with nothing held out scores 0 (and still counts in the average)
    top = ranked[:k]
    hit_at = [j for j, item in enumerate(top) if item in held_out]
    if name == "Recall":
        return len(hit_at) / len(held_out)
    if name == "Precision":
        return len(hit_at) / k
    if name == "Hit":
        return 1.0 if hit_at else 0.0
    if name == "MRR":
        return 1.0 / (hit_at[0] + 1) if hit_at else 0.0
    if name == "NDCG":
        dcg = sum(1 / math.log2(j + 2) for j in hit_at)
        idcg = sum(1 / math.log2(j + 2) for j in range(min(k, len(held_out))))
        return dcg / idcg
    raise ValueError(name)


def random_case(seed: int, n_users: int, n_items: int, kmax: int, max_held: int):
    rng = np.random.default_rng(seed)
    ranked = np.stack([rng.permutation(n_items)[:kmax] for _ in range(n_users)])
    held = []
    for u in range(n_users):
        size = int(rng.integers(0, max_held + 1)) if u % 7 else 0  # every 7th user holds out nothing
        # Bias towards ranked items so that hits are common.
        pool = ranked[u] if rng.random() < 0.6 else np.arange(n_items)
        held.append(set(rng.choice(pool, size=min(size, len(pool)), replace=False).tolist()))
    rows = np.repeat(np.arange(n_users), [len(h) for h in held])
    cols = np.array([i for h in held for i in sorted(h)], dtype=np.int64)
    csr = sp.csr_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)), shape=(n_users, n_items))
    return ranked, held, csr


@pytest.mark.parametrize("seed, n_users, n_items, topk, max_held", [
    (0, 60, 40, [1, 5, 10, 20], 12),
    (1, 35, 300, [10, 20, 50, 100], 60),
    (2, 20, 25, [3, 25], 25),
])
def test_per_user_matches_the_reference(seed, n_users, n_items, topk, max_held):
    ranked, held, csr = random_case(seed, n_users, n_items, max(topk), max_held)
    got = metrics.per_user(torch.from_numpy(ranked), csr, topk, NAMES)
    assert set(got) == {f"{n.lower()}@{k}" for n in NAMES for k in topk}
    for k in topk:
        for name in NAMES:
            exp = [reference_metric(name, ranked[u].tolist(), held[u], k) for u in range(n_users)]
            np.testing.assert_allclose(got[f"{name.lower()}@{k}"].numpy(), exp, rtol=1e-5, atol=1e-7,
                                       err_msg=f"{name}@{k}")


def test_k_beyond_the_ranked_list():
    """With fewer items than K, the ranking holds every item; NDCG's ideal is over min(K, |held-out|)."""
    ranked, held, csr = random_case(3, 30, 15, 15, 15)
    got = metrics.per_user(torch.from_numpy(ranked), csr, [10, 20], NAMES)
    for name in NAMES:
        exp = [reference_metric(name, ranked[u].tolist(), held[u], 20) for u in range(30)]
        np.testing.assert_allclose(got[f"{name.lower()}@20"].numpy(), exp, rtol=1e-5, atol=1e-7, err_msg=name)


def test_accumulator_averages_over_all_users_including_empty_ones():
    ranked, held, csr = random_case(4, 50, 40, 10, 8)
    acc = metrics.Accumulator(50)
    for lo in range(0, 50, 17):  # batches of uneven size
        acc.add(metrics.per_user(torch.from_numpy(ranked[lo:lo + 17]), csr[lo:lo + 17], [10], ["Recall"]))
    exp = sum(reference_metric("Recall", ranked[u].tolist(), held[u], 10) for u in range(50)) / 50
    assert acc.mean()["recall@10"] == pytest.approx(exp, rel=1e-6)
    assert any(not h for h in held)  # the case does include users with nothing held out


def test_mask_sets_exactly_the_stored_entries_to_minus_inf():
    rng = np.random.default_rng(5)
    dense = rng.random((6, 9)) < 0.3
    csr = sp.csr_matrix(dense.astype(np.float32))
    scores = torch.rand(6, 9)
    before = scores.clone()
    out = metrics.mask_(scores, csr)
    assert out is scores
    assert torch.isneginf(scores[torch.from_numpy(dense)]).all()
    assert torch.equal(scores[~torch.from_numpy(dense)], before[~torch.from_numpy(dense)])
    empty = torch.rand(2, 3)
    assert torch.equal(metrics.mask_(empty.clone(), sp.csr_matrix((2, 3), dtype=np.float32)), empty)


# ------------------------------------------------------------------ the evaluation pass

class LinearScorer:
    """A stand-in method: scores = x @ M with a heavy diagonal, so unmasked history would win."""

    def __init__(self, m: np.ndarray):
        self.m = torch.from_numpy(m).float()
        self.calls = 0

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x @ self.m


def test_evaluate_masks_history_and_ranks_once_per_batch():
    rng = np.random.default_rng(6)
    n_users, n_items = 40, 30
    pairs = [(u, i) for u in range(n_users) for i in rng.choice(n_items, 12, replace=False)]
    users = np.array([p[0] for p in pairs])
    items = np.array([p[1] for p in pairs])
    pos = np.arange(len(users)) % 12
    train, valid, test = (pos < 8), (pos >= 8) & (pos < 10), pos >= 10
    ds = dataset.build("t", n_users, n_items, (users[train], items[train]), (users[valid], items[valid]),
                    (users[test], items[test]))
    cfg = config.resolve({"topk": [5, 10], "metrics": NAMES, "valid_metric": "Recall@10",
                          "eval_batch_size": 7 * n_items})  # RecBole's unit: scores, i.e. 7 users a batch
    m = rng.random((n_items, n_items)) + 5 * np.eye(n_items)
    method = LinearScorer(m)
    train_in = ds.train_matrix()
    valid_m, test_m = trainer.evaluate(method, cfg, ds, train_in, torch.device("cpu"))
    assert method.calls == math.ceil(n_users / 7)  # one scoring pass serves valid and test

    scores = train_in.toarray() @ m
    hist = {u: set(ds.history(u).tolist()) for u in range(n_users)}
    val = {u: set(ds.valid[u].indices.tolist()) for u in range(n_users)}
    tst = {u: set(ds.test[u].indices.tolist()) for u in range(n_users)}
    for name in NAMES:
        for k in (5, 10):
            ev, et = [], []
            for u in range(n_users):
                order = [int(i) for i in np.argsort(-scores[u], kind="stable")]
                rv = [i for i in order if i not in hist[u]]
                rt = [i for i in rv if i not in val[u]]
                ev.append(reference_metric(name, rv, val[u], k))
                et.append(reference_metric(name, rt, tst[u], k))
            key = f"{name.lower()}@{k}"
            assert valid_m[key] == pytest.approx(np.mean(ev), rel=1e-5), key
            assert test_m[key] == pytest.approx(np.mean(et), rel=1e-5), key
    assert valid_m["hit@10"] > 0  # the case is not trivially all zeros


def test_evaluate_on_a_subset_of_users_averages_over_that_subset():
    rng = np.random.default_rng(7)
    users = np.repeat(np.arange(10), 6)
    items = np.concatenate([rng.choice(20, 6, replace=False) for _ in range(10)])
    pos = np.arange(60) % 6
    ds = dataset.build("t", 10, 20, (users[pos < 4], items[pos < 4]), (users[pos == 4], items[pos == 4]),
                    (users[pos == 5], items[pos == 5]))
    cfg = config.resolve({"topk": [5], "metrics": ["Recall"], "valid_metric": "Recall@5"})
    method = LinearScorer(rng.random((20, 20)))
    full_v, _ = trainer.evaluate(method, cfg, ds, ds.train_matrix(), torch.device("cpu"))
    per = [trainer.evaluate(method, cfg, ds, ds.train_matrix(), torch.device("cpu"), users=np.array([u]))[0]
           ["recall@5"] for u in range(10)]
    assert full_v["recall@5"] == pytest.approx(np.mean(per), rel=1e-6)



def test_history_items_with_zero_time_weight_are_still_masked():
    """T-DiffRec with w_min = 0 feeds the oldest item as 0.0; it is still history and must stay masked
    (evaluate masks with the same matrix it feeds the model)."""
    ds = data.load(config.resolve({"synthetic_users": 80, "synthetic_items": 50, "synthetic_interactions": 10}))
    train_in = ds.train_matrix(time_aware=True, w_min=0.0, w_max=1.0)
    scores = metrics.mask_(torch.zeros(ds.n_users, ds.n_items), train_in)
    for u in range(ds.n_users):
        assert set(torch.isneginf(scores[u]).nonzero().flatten().tolist()) == set(ds.history(u).tolist())
