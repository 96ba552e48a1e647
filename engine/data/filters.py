"""RecBole's interaction filters over raw rows, in RecBole's order: `rm_dup_inter`, then
value filters (`val_interval`, and our `rating_threshold`), then the interaction-count
intervals (`user_inter_num_interval`, `item_inter_num_interval`), repeated until every
kept user and item satisfies them (k-core filtering when the lower ends are k)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.errors import DataError
from engine.config.recbole_keys import parse_intervals


def within(values: np.ndarray, intervals: list[tuple[str, float, float, str]]) -> np.ndarray:
    """Mask of the values inside the union of RecBole intervals."""
    out = np.zeros(len(values), dtype=bool)
    for left, lo, hi, right in intervals:
        ok = values >= lo if left == "[" else values > lo
        ok &= values <= hi if right == "]" else values < hi
        out |= ok
    return out


def select(file: Path, cfg: dict, users: np.ndarray, items: np.ndarray, times: np.ndarray | None,
           fields: dict[str, np.ndarray]) -> np.ndarray:
    """Indices of the rows kept (in file order). `fields` holds the columns the value
    filters name (rating under `rating` when there is one)."""
    idx = np.arange(len(users))
    if cfg.get("rm_dup_inter"):
        idx = _dedupe(users, items, times, cfg["rm_dup_inter"])
    keep = np.ones(len(idx), dtype=bool)
    if cfg.get("rating_threshold") is not None:
        if "rating" not in fields:
            raise DataError(f"data: {file}: rating_threshold is set but the file has no rating column; "
                            "remove rating_threshold")
        keep &= _numeric(file, "rating", fields["rating"][idx]) >= cfg["rating_threshold"]
    for name, interval in (cfg.get("val_interval") or {}).items():
        if name not in fields:
            raise DataError(f"data: {file}: val_interval names `{name}`, which is not a loaded column of the "
                            "interactions; use one of its columns (filters on .user/.item features are not "
                            "supported)")
        col = fields[name][idx]
        if isinstance(interval, list):
            keep &= np.isin(col.astype(str), [str(t) for t in interval])
        else:
            keep &= within(_numeric(file, name, col), parse_intervals(interval))
    idx = idx[keep]
    return idx[_count_filter(users[idx], items[idx], cfg.get("user_inter_num_interval"),
                             cfg.get("item_inter_num_interval"))]


def _numeric(file: Path, name: str, col: np.ndarray) -> np.ndarray:
    if col.dtype.kind in "fiu":
        return col.astype(np.float64)
    try:
        return col.astype(np.float64)
    except ValueError:
        raise DataError(f"data: {file}: column `{name}` has non-numeric values, so an interval cannot filter "
                        "it; give a list of tokens to keep instead") from None


def _codes(values: np.ndarray) -> np.ndarray:
    return np.unique(values, return_inverse=True)[1].reshape(-1)


def _dedupe(users, items, times, keep: str) -> np.ndarray:
    """Rows left after dropping repeated user-item pairs: the first or last by time
    (file order without a time column, or among equal times), as RecBole's rm_dup_inter."""
    n_items = int(_codes(items).max()) + 1 if len(items) else 1
    key = _codes(users).astype(np.int64) * n_items + _codes(items)
    order = np.argsort(times, kind="stable") if times is not None else np.arange(len(key))
    k = key[order]
    if keep == "first":
        pos = np.unique(k, return_index=True)[1]
    else:
        pos = len(k) - 1 - np.unique(k[::-1], return_index=True)[1]
    return np.sort(order[pos])


def _count_filter(users, items, user_interval, item_interval) -> np.ndarray:
    """Mask of the rows kept by the interaction-count intervals, applied until stable."""
    keep = np.ones(len(users), dtype=bool)
    if user_interval is None and item_interval is None:
        return keep
    checks = [(_codes(col), parse_intervals(iv)) for col, iv in ((users, user_interval), (items, item_interval))
              if iv is not None]
    while True:
        ban = np.zeros(len(users), dtype=bool)
        for codes, intervals in checks:
            counts = np.bincount(codes[keep], minlength=int(codes.max()) + 1 if len(codes) else 0)
            ban |= ~within(counts.astype(np.float64), intervals)[codes]
        ban &= keep
        if not ban.any():
            return keep
        keep &= ~ban
