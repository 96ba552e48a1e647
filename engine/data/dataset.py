"""The Dataset: interactions as sparse user x item matrices (train, valid, test), of which
only a batch is ever densified, and its fingerprint."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp


SPLIT_FILES = ("train_list.npy", "valid_list.npy", "test_list.npy")


MIN_SPLIT_LEN = 3  # users with fewer interactions keep them all in train (nothing held out)


MAX_ID = 2 ** 31 - 2  # ids index int32 arrays (scipy, torch): max id + 1 must fit


MAX_TOKEN = 256  # characters of a user or item token in a text file


@dataclass
class Dataset:
    name: str
    n_users: int
    n_items: int
    train_users: np.ndarray  # int64; grouped by user, each user's items in chronological order
    train_items: np.ndarray
    valid: sp.csr_matrix  # users x items, 1.0 where held out for validation
    test: sp.csr_matrix
    item_emb: np.ndarray | None = None
    item_names: list[str] | None = None
    stats: dict = field(default_factory=dict)
    user_tokens: list[str] | None = None  # the dataset's own ids (atomic, CSV), by dense id
    item_tokens: list[str] | None = None

    def train_matrix(self, time_aware: bool = False, w_min: float = 0.1, w_max: float = 1.0) -> sp.csr_matrix:
        """Users x items training matrix: 1.0 per interaction, or T-DiffRec's weights rising
        linearly from w_min (a user's oldest interaction) to w_max (the newest)."""
        values = np.ones(len(self.train_users), dtype=np.float32)
        if time_aware:
            values = time_weights(*positions(self.train_users, self.n_users), w_min, w_max)
        return _csr(self.train_users, self.train_items, self.n_users, self.n_items, values)

    def history(self, user: int) -> np.ndarray:
        """The user's training items, oldest first."""
        lo, hi = np.searchsorted(self.train_users, [user, user + 1])
        return self.train_items[lo:hi]

    def fingerprint(self) -> str:
        h = hashlib.sha1()
        for a in (self.train_users, self.train_items, self.valid.indptr, self.valid.indices,
                  self.test.indptr, self.test.indices):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(f"{self.n_users}x{self.n_items}".encode())
        return h.hexdigest()[:16]


def model_input(cfg: dict, ds: Dataset) -> sp.csr_matrix:
    """The users x items matrix every model is fitted on and reads as its input: binary, or
    with T-DiffRec's linear time weights when `time-aware` is on, whatever the model
    (T-EASE, T-ItemKNN, T-MultiVAE, LT-DiffRec are one config key away)."""
    return ds.train_matrix(cfg["time-aware"], cfg["w_min"], cfg["w_max"])


SPLIT_STATS = ("split", "n_train", "n_valid", "n_test", "unseen_targets", "unseen_dropped")


def split_counts(stats: dict) -> dict:
    """The split's sizes and how it was made, from a Dataset's stats (the summary's `split`)."""
    return {k: stats[k] for k in SPLIT_STATS if k in stats}


def time_weights(pos: np.ndarray, count: np.ndarray, w_min: float, w_max: float) -> np.ndarray:
    """T-DiffRec's weights: rising linearly from w_min (position 0, a user's oldest
    interaction) to w_max (position count - 1, the newest)."""
    frac = np.divide(pos, np.maximum(count - 1, 1), dtype=np.float64)
    return (w_min + (w_max - w_min) * frac).astype(np.float32)


def positions(users: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """For user-grouped rows: each row's position within its user, and its user's row count."""
    count = np.bincount(users, minlength=n_users)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    return np.arange(len(users)) - start[users], count[users]


def _csr(users, items, n_users, n_items, values=None) -> sp.csr_matrix:
    if values is None:
        values = np.ones(len(users), dtype=np.float32)
    m = sp.csr_matrix((values, (users, items)), shape=(n_users, n_items), dtype=np.float32)
    m.sort_indices()
    return m


def build(name, n_users, n_items, train, valid, test, item_emb=None, item_names=None,
          duplicates=0, extra_stats=None, drop_unseen=False) -> Dataset:
    """Make a Dataset from (users, items) pairs per split; train pairs in chronological order.

    Drops (and counts) duplicate pairs. Held-out items that training never saw are counted
    (`unseen_targets`) and kept as targets, which no model learnt to rank (as RecBole), or
    dropped with `drop_unseen` (`unseen_dropped`).
    """
    tu, ti, dup = _dedupe(*train, n_items)
    order = np.argsort(tu, kind="stable")  # group by user, keep each user's time order
    tu, ti = tu[order], ti[order]
    seen = np.zeros(n_items, dtype=bool)
    seen[ti] = True
    held = []
    unseen = 0
    train_key = np.sort(tu * n_items + ti)  # unique: deduplicated above
    for users, items in (valid, test):
        users, items, d = _dedupe(users, items, n_items)
        dup += d
        key = users * n_items + items
        in_train = _member(key, train_key)
        dup += int(in_train.sum())
        unseen_here = ~seen[items] & ~in_train
        unseen += int(unseen_here.sum())
        ok = ~in_train & ~(unseen_here & drop_unseen)
        held.append(_csr(users[ok], items[ok], n_users, n_items))
    stats = {
        "n_users": int(n_users), "n_items": int(n_items),
        "n_train": int(len(tu)), "n_valid": int(held[0].nnz), "n_test": int(held[1].nnz),
        "density": round((len(tu) + held[0].nnz + held[1].nnz) / max(1, n_users * n_items), 6),
        "duplicates_dropped": int(dup), "unseen_targets": int(unseen),
        "unseen_dropped": int(unseen) if drop_unseen else 0,
        **(extra_stats or {}),
    }
    return Dataset(name, int(n_users), int(n_items), tu.astype(np.int64), ti.astype(np.int64),
                   held[0], held[1], item_emb, item_names, stats)


def _member(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """np.isin(keys, sorted_keys) by binary search (numpy's hash-based isin took ~0.2 s per
    split on ml-1m, a tenth of a run's start-up)."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


def _dedupe(users, items, n_items):
    """Keep the first occurrence of each (user, item) pair, in the original order."""
    key = users.astype(np.int64) * n_items + items
    _, first = np.unique(key, return_index=True)
    first.sort()
    return users[first].astype(np.int64), items[first].astype(np.int64), int(len(users) - len(first))
