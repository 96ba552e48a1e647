"""What the Inspector returns: plain data about one user (history, held-out items, trajectory,
top-K with hits, metrics), a what-if comparison, and the per-user metrics of all users."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class HistoryEntry:
    position: int  # 0 = the user's oldest training interaction
    item: int
    name: str
    weight: float  # the value in the model's input (T-DiffRec's recency weight, else 1)


@dataclass
class Rec:
    rank: int  # 1-based
    item: int
    name: str
    score: float
    in_test: bool
    in_valid: bool

    @property
    def hit(self) -> str:
        return "test" if self.in_test else ("valid" if self.in_valid else "")


@dataclass
class UserView:
    user: int
    topk: int
    seed: int
    history: list[HistoryEntry]  # oldest first
    valid_items: np.ndarray
    test_items: np.ndarray
    input: np.ndarray  # the model's input vector x0 (n_items)
    trajectory: list[np.ndarray]  # the vector after each reverse step; the last is `scores`
    latent: bool  # True when the trajectory lives in a latent space (not one value per item)
    scores: np.ndarray  # the final denoised scores (n_items), unmasked
    top: list[Rec]  # top-K of the test ranking: history and valid items excluded
    metrics: dict[str, dict[str, float]]  # {"test": {"recall@K": ..}, "valid": {..}}

    @property
    def steps(self) -> int:
        return len(self.trajectory)

    def excluded(self) -> np.ndarray:
        """The items the shown list leaves out: the history and the valid items."""
        return np.concatenate([np.array([h.item for h in self.history], dtype=np.int64), self.valid_items])

    def cutoff(self, vec: np.ndarray | None = None) -> int:
        """How many items, all of them sorted by `vec` (the final scores by default), come
        up to and including rank K of the shown list (history and valid items excluded):
        a chart over all items draws the top-K line right after that many."""
        vec = self.scores if vec is None else vec
        order = np.argsort(-np.asarray(vec, dtype=np.float64), kind="stable")
        candidate = np.ones(len(order), dtype=bool)
        candidate[self.excluded()] = False
        pos = np.flatnonzero(candidate[order])
        return int(pos[min(self.topk, len(pos)) - 1]) + 1 if len(pos) else 0

    def step(self, i: int) -> np.ndarray:
        return self.trajectory[i]

    def marked(self) -> dict[str, np.ndarray]:
        """The items a chart of this user's scores marks: history, valid and test (none for a
        latent trajectory, whose values are not one per item)."""
        if self.latent:
            return {}
        return {"history": np.array([h.item for h in self.history], dtype=np.int64),
                "valid": self.valid_items, "test": self.test_items}


@dataclass
class RankChange:
    item: int
    name: str
    before: int | None  # 1-based rank in the test ranking; None = excluded (history or valid)
    after: int | None


@dataclass
class WhatIf:
    user: int
    removed: list[int]
    added: list[int]
    before: UserView
    after: UserView
    entering: list[RankChange]  # in the new top-K, not in the old
    leaving: list[RankChange]  # in the old top-K, not in the new
    moved: list[RankChange]  # in both, at another rank


@dataclass
class UserScore:
    user: int
    value: float
    n_history: int
    n_test: int


@dataclass
class UserTable:
    """Per-user metrics of every user from one vectorized pass (as `trainer.evaluate`)."""
    valid: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    n_history: np.ndarray
    n_valid: np.ndarray
    n_test: np.ndarray


def _full_ranks(view: UserView) -> dict[int, int]:
    """1-based rank of each candidate item (not history, not valid) under the view's scores."""
    s = view.scores.astype(np.float64).copy()
    s[view.excluded()] = -np.inf
    order = np.argsort(-s, kind="stable")
    n = int(np.isfinite(s).sum())
    return {int(i): r + 1 for r, i in enumerate(order[:n])}


def compare_views(before: UserView, after: UserView, removed, added, names) -> WhatIf:
    old = {r.item: r.rank for r in before.top}
    new = {r.item: r.rank for r in after.top}
    rb, ra = _full_ranks(before), _full_ranks(after)
    change = lambda i: RankChange(i, names[i], rb.get(i), ra.get(i))
    entering = [change(i) for i in new if i not in old]
    leaving = [change(i) for i in old if i not in new]
    moved = [change(i) for i in new if i in old and old[i] != new[i]]
    return WhatIf(before.user, list(removed), list(added), before, after, entering, leaving, moved)
