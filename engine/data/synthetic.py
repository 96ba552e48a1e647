"""A seeded synthetic interaction generator with the structure DiffRec exploits.

Items fall into taste clusters and have Zipf popularity. Each user has an early and a
late taste (Dirichlet over clusters) and drifts from one to the other over time, so
recency matters (T-DiffRec) and the newest interactions are the hardest to predict.
A share of interactions can be uniform noise (false positives, as in ml-1m_noisy).
Everything is vectorized: Amazon-book sizes (100k users, 3M interactions) take seconds.
"""
from __future__ import annotations

import numpy as np

from engine.data.dataset import Dataset, build
from engine.data.splits import split_name, split_per_user

TASTE_CONCENTRATION = 0.15  # small = each user likes few clusters


def _categorical_rows(rng, probs: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One draw per entry of `row` from the distribution probs[row] (rows sum to 1)."""
    n_rows, width = probs.shape
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0
    flat = (cum + np.arange(n_rows)[:, None]).ravel()
    pick = np.searchsorted(flat, row + rng.random(len(row)), side="right") - row * width
    return np.minimum(pick, width - 1)


def interactions(n_users: int, n_items: int, mean_len: int, n_clusters: int, popularity: float,
                 noise: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(users, items, times) of unique interactions, each user's rows in time order."""
    rng = np.random.default_rng(seed)
    n_clusters = max(1, min(n_clusters, n_items))
    cluster_of = rng.permutation(np.arange(n_items) % n_clusters)
    weight = 1.0 / (rng.permutation(n_items) + 1.0) ** popularity
    # Items sorted by cluster, with each cluster's popularity normalised to sum to 1.
    by_cluster = np.argsort(cluster_of, kind="stable")
    sizes = np.bincount(cluster_of, minlength=n_clusters)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    w = weight[by_cluster]
    cum = np.cumsum(w)
    totals = np.add.reduceat(w, starts)
    before = np.repeat(cum[starts] - w[starts], sizes)
    within = (cum - before) / np.repeat(totals, sizes)  # in (0, 1], per cluster
    within[np.cumsum(sizes) - 1] = 1.0

    extra = max(mean_len - 3, 1)
    lengths = 3 + rng.negative_binomial(2, 2.0 / (2.0 + extra), size=n_users)
    lengths = np.minimum(lengths, n_items)
    users = np.repeat(np.arange(n_users), lengths)
    pos = np.arange(len(users)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    frac = pos / np.repeat(np.maximum(lengths - 1, 1), lengths)

    tastes = rng.dirichlet(np.full(n_clusters, TASTE_CONCENTRATION), size=2 * n_users)
    late = rng.random(len(users)) < frac
    cluster = _categorical_rows(rng, tastes, users * 2 + late)
    r = rng.random(len(users))
    flat = (within + np.repeat(np.arange(n_clusters), sizes)).ravel()
    idx = np.searchsorted(flat, cluster + r, side="left")
    idx = np.clip(idx, starts[cluster], starts[cluster] + sizes[cluster] - 1)
    items = by_cluster[idx]
    if noise > 0:
        noisy = rng.random(len(users)) < noise
        items[noisy] = rng.integers(0, n_items, int(noisy.sum()))
    # Drop repeats, keeping each pair's first (oldest) occurrence.
    _, first = np.unique(users * n_items + items, return_index=True)
    first.sort()
    return users[first], items[first], pos[first].astype(np.float64)


def generate(cfg: dict) -> Dataset:
    users, items, times = interactions(
        cfg["synthetic_users"], cfg["synthetic_items"], cfg["synthetic_interactions"],
        cfg["synthetic_clusters"], cfg["synthetic_popularity"], cfg["synthetic_noise"], cfg["synthetic_seed"])
    splits, short = split_per_user(users, items, times, cfg["split"], cfg["order"], cfg["synthetic_seed"],
                                   rule=cfg.get("split_rule", "nearest"))
    return build(cfg["dataset"], cfg["synthetic_users"], cfg["synthetic_items"], *splits,
                 extra_stats={"users_all_train": short, "split": split_name(cfg)},
                 drop_unseen=cfg.get("drop_unseen_targets", False))
