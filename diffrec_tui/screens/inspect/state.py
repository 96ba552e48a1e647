"""What the Inspect screen's view panels draw: one snapshot of the shown user, made anew on
every change and handed to each panel's reactive `shown`."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from engine.inspection.views import Rec  # plain data, torch-free

LOG_X_ITEMS = 150  # above this many items the chart's x axis starts in log scale


@dataclass(eq=False)  # compared by identity: every snapshot is news to the panels
class Shown:
    insp: Any = None  # engine.inspection.inspector.Inspector of the run, once loaded
    view: Any = None  # the user's own UserView (unedited)
    whatif: Any = None  # the WhatIf of the edits, once re-denoised
    removed: tuple = ()
    added: tuple = ()
    step: int = 0  # 0 = the input, 1..S = after reverse step i (S = the final scores)
    log_x: bool | None = None  # None: by the number of items

    @property
    def current(self):
        """The view on screen: the what-if when there are edits, else the user's own."""
        return self.whatif.after if self.whatif is not None else self.view

    @property
    def ready(self) -> bool:
        return self.insp is not None and self.view is not None

    def vector(self) -> np.ndarray | None:
        """The vector at the current step: 0 = the model's input, S = the final scores."""
        v = self.current
        if v is None:
            return None
        if v.latent:
            return v.scores
        return v.input if self.step == 0 else v.trajectory[self.step - 1]

    def log(self, vec: np.ndarray) -> bool:
        return self.log_x if self.log_x is not None else len(vec) > LOG_X_ITEMS

    def stepped(self, view=None):
        """`view` (the shown one by default) as if the reverse diffusion stopped at the step
        shown: its top-K and per-user Recall/NDCG@K from that step's vector, history and
        valid items excluded as in the final list. The final step is the view itself."""
        view = self.current if view is None else view
        if view is None or view.latent or self.step >= view.steps:
            return view
        vec = np.array(view.input if self.step == 0 else view.trajectory[self.step - 1], dtype=np.float64)
        k = view.topk
        vec[[h.item for h in view.history]] = -np.inf
        m_valid = _metrics(_top(vec, k), view.valid_items, k)
        vec[view.valid_items] = -np.inf
        top = _top(vec, k)
        tset, vset = set(view.test_items.tolist()), set(view.valid_items.tolist())
        recs = [Rec(r + 1, int(i), self.insp.name(int(i)), float(vec[i]), int(i) in tset, int(i) in vset)
                for r, i in enumerate(top) if math.isfinite(vec[i])]
        return replace(view, top=recs, metrics={"test": _metrics(top, view.test_items, k), "valid": m_valid})


def _top(vec: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-vec, kind="stable")[:k]


def _metrics(top: np.ndarray, held: np.ndarray, k: int) -> dict[str, float]:
    """Recall@K and NDCG@K of one ranked list, as engine.metrics.per_user computes them."""
    hits = np.isin(top, held).astype(np.float64)
    discount = 1.0 / np.log2(np.arange(len(top)) + 2.0)
    ideal = discount[:min(len(held), k)].sum()
    return {f"recall@{k}": hits.sum() / max(1, len(held)),
            f"ndcg@{k}": float((hits * discount).sum() / ideal) if ideal > 0 else 0.0}
