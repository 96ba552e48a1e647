"""The per-user split into train, valid and test: ratio rules (nearest, RecBole's floor) and
leave-one-out, chronological (TO) or random (RO)."""
from __future__ import annotations

import numpy as np

from engine.data.dataset import MIN_SPLIT_LEN, positions


def split_per_user(users, items, times, ratios, order="TO", seed=0, leave_one_out="off", rule="nearest"):
    """Per-user split into train/valid/test. TO: chronological (by `times`, ties in file
    order); RO: random per user. By ratios, with `rule` nearest: users with fewer than 3
    interactions keep all in train, others hold out round(n x ratio) valid and test items,
    at least one each; with `rule` recbole: RecBole's counts (`_recbole_counts`).
    `leave_one_out` (RecBole's LS) holds out each user's last item(s) instead."""
    n = len(users)
    if order == "RO":
        key2 = np.random.default_rng(seed).random(n)
    else:
        key2 = times if times is not None else np.arange(n)
    idx = np.lexsort((np.arange(n), key2, users))
    users, items = users[idx], items[idx]
    n_users = int(users.max()) + 1 if n else 0
    pos, count = positions(users, n_users)
    if leave_one_out and leave_one_out != "off":
        n_valid, n_test, short = _leave_one_out_counts(count, leave_one_out)
    else:
        n_valid, n_test, short = (_recbole_counts if rule == "recbole" else _ratio_counts)(count, ratios)
    n_train = count - n_valid - n_test
    part = np.where(pos < n_train, 0, np.where(pos < n_train + n_valid, 1, 2))
    return [(users[part == s], items[part == s]) for s in range(3)], int(np.unique(users[short]).size)


def _ratio_counts(count: np.ndarray, ratios) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Held-out valid and test counts per row's user under the split ratios, and which rows
    belong to users too short to split."""
    r = np.asarray(ratios, dtype=np.float64) / float(np.sum(ratios))
    n_test = np.where(r[2] > 0, np.maximum(1, np.round(count * r[2])), 0).astype(np.int64)
    n_valid = np.where(r[1] > 0, np.maximum(1, np.round(count * r[1])), 0).astype(np.int64)
    short = count < MIN_SPLIT_LEN
    n_test[short] = 0
    n_valid[short] = 0
    return n_valid, n_test, short


def _recbole_counts(count: np.ndarray, ratios) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RecBole 1.2.1's split_by_ratio per user (`_calcu_split_ids`): each held-out part is
    int(n x ratio), train the rest; then, test first, a part whose share n x ratio lies in
    (0, 1) gets one interaction while train keeps more than one. Same float arithmetic, so
    the same counts (ml-100k, RS 0.8/0.1/0.1: 80,808 / 9,596 / 9,596)."""
    total = sum(float(x) for x in ratios)
    r = [float(x) / total for x in ratios]
    share = [r[i] * count for i in (1, 2)]  # float64 products, as RecBole's Python floats
    n_valid, n_test = (np.floor(x).astype(np.int64) for x in share)
    n_train = count - n_valid - n_test
    for part, x in ((n_test, share[1]), (n_valid, share[0])):
        bump = (n_train > 1) & (x > 0) & (x < 1)
        part += bump
        n_train -= bump
    return n_valid, n_test, (n_valid + n_test) == 0


def _leave_one_out_counts(count: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RecBole's leave-one-out: the last item to test (valid_only: to valid), the one before
    to valid (valid_and_test), as long as one item stays in train."""
    one = (count >= 2).astype(np.int64)
    if mode == "valid_and_test":
        return (count >= 3).astype(np.int64), one, count < 2
    if mode == "valid_only":
        return one, np.zeros_like(one), count < 2
    return np.zeros_like(one), one, count < 2  # test_only


def split_name(cfg: dict) -> str:
    """How the held-out parts were made: files, leave-one-out, or which ratio rule."""
    if cfg.get("benchmark_filename"):
        return "files"
    mode = cfg.get("leave_one_out", "off")
    if mode not in (None, "off"):
        return f"leave-one-out {mode}"
    return f"{cfg.get('split_rule', 'nearest')} {'/'.join(f'{x:g}' for x in cfg['split'])} {cfg['order']}"
