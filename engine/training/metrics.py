"""All-item top-K ranking metrics, vectorized over users (the paper's definitions).

Per user: Recall@K = hits / |held-out|; NDCG@K = DCG / IDCG with IDCG over
min(K, |held-out|); Precision@K = hits / K; MRR@K = 1 / rank of the first hit;
Hit@K = 1 if any hit. A user with no held-out items scores 0 on every metric.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from engine.training.sparse import Entries, entries


def rows_to_index(csr: sp.csr_matrix, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(row, col) index tensors of a CSR batch's stored entries."""
    rows = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
    return (torch.from_numpy(rows).to(device), torch.from_numpy(csr.indices.astype(np.int64)).to(device))


def _entries(m: sp.csr_matrix | Entries, device) -> Entries:
    if isinstance(m, Entries):
        return m
    return entries(m, np.arange(m.shape[0]), device)


def mask_(scores: torch.Tensor, held: sp.csr_matrix | Entries) -> torch.Tensor:
    """Set the scores of the stored items (e.g. the user's history) to -inf, in place."""
    return _entries(held, scores.device).mask_(scores)


def dense_bool(held: sp.csr_matrix | Entries, device) -> torch.Tensor:
    return _entries(held, device).dense_bool()


def per_user(ranked: torch.Tensor, targets: sp.csr_matrix | Entries, topk: list[int],
             metrics: list[str]) -> dict[str, torch.Tensor]:
    """Metric values per user, keyed 'recall@20' etc., from ranked item ids (B, max K)."""
    targets = _entries(targets, ranked.device)
    hits = targets.dense_bool().gather(1, ranked).float()
    n_target = targets.counts.float()
    kmax = ranked.shape[1]
    discount = 1.0 / torch.log2(torch.arange(kmax, device=ranked.device, dtype=torch.float32) + 2.0)
    ideal = torch.cat([torch.zeros(1, device=ranked.device), torch.cumsum(discount, 0)])
    out = {}
    for k in topk:
        h = hits[:, :k]
        n_hit = h.sum(1)
        for name in metrics:
            key = f"{name.lower()}@{k}"
            if name == "Recall":
                out[key] = n_hit / n_target.clamp(min=1)
            elif name == "Precision":
                out[key] = n_hit / k
            elif name == "NDCG":
                idcg = ideal[n_target.clamp(max=k).long()]
                out[key] = (h * discount[:k]).sum(1) / idcg.clamp(min=1e-12)
            elif name == "MRR":
                first = h.argmax(1).float()
                out[key] = torch.where(n_hit > 0, 1.0 / (first + 1.0), torch.zeros_like(n_hit))
            elif name == "Hit":
                out[key] = (n_hit > 0).float()
    return out


class Accumulator:
    """Sums per-user metrics over batches (on their device, in float64); `mean()` reads them
    back once and averages over all users."""

    def __init__(self, n_users: int):
        self.n_users = n_users
        self.sums: dict[str, torch.Tensor] = {}

    def add(self, values: dict[str, torch.Tensor]) -> None:
        for key, v in values.items():
            s = v.double().sum()
            self.sums[key] = self.sums[key] + s if key in self.sums else s

    def mean(self) -> dict[str, float]:
        if not self.sums:
            return {}
        totals = torch.stack(list(self.sums.values())).tolist()
        return {k: v / self.n_users for k, v in zip(self.sums, totals)}
