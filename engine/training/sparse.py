"""A users x items matrix kept sparse on the training device; batches of its rows are
densified there, so a GPU never waits for the host between batches.

Only host integers (row counts from the host copy of the row pointers) size the device
work, so nothing here reads a device value back.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch


@dataclass
class Entries:
    """The stored entries of a batch of rows: row (within the batch), column, value."""
    n_rows: int
    n_cols: int
    row: torch.Tensor
    col: torch.Tensor
    val: torch.Tensor
    counts: torch.Tensor  # entries per row

    def dense(self, out: torch.Tensor | None = None) -> torch.Tensor:
        out = torch.zeros((self.n_rows, self.n_cols), dtype=torch.float32, device=self.row.device) \
            if out is None else out.zero_()
        out.index_put_((self.row, self.col), self.val)
        return out

    def mask_(self, scores: torch.Tensor) -> torch.Tensor:
        """Scores of the stored entries to -inf, in place."""
        return scores.index_put_((self.row, self.col), scores.new_full((), float("-inf")))

    def dense_bool(self) -> torch.Tensor:
        out = torch.zeros((self.n_rows, self.n_cols), dtype=torch.bool, device=self.row.device)
        return out.index_put_((self.row, self.col), out.new_ones(()))


class DeviceRows:
    """A CSR matrix on `device`; `rows(idx)` gives the stored entries of some rows."""

    def __init__(self, m: sp.csr_matrix, device: torch.device | str = "cpu"):
        m = m.tocsr()
        self.shape = m.shape
        self.device = torch.device(device)
        self.indptr = m.indptr.astype(np.int64)  # host copy: sizes every batch without a device read
        put = lambda a, dtype: torch.from_numpy(np.ascontiguousarray(a)).to(self.device, dtype)  # noqa: E731
        self.crow = put(self.indptr, torch.long)
        self.col = put(m.indices, torch.long)
        self.val = put(m.data, torch.float32)

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def rows(self, idx: np.ndarray, idx_device: torch.Tensor | None = None) -> Entries:
        """Entries of rows `idx` (host array); `idx_device` is the same on the device, if the
        caller already moved it there (one copy per epoch instead of one per batch)."""
        idx = np.asarray(idx, dtype=np.int64)
        total = int((self.indptr[idx + 1] - self.indptr[idx]).sum())
        rows = torch.from_numpy(idx).to(self.device) if idx_device is None else idx_device
        start = self.crow[rows]
        counts = self.crow[rows + 1] - start
        row = torch.repeat_interleave(torch.arange(len(idx), device=self.device), counts, output_size=total)
        # entry j of the batch sits at start[row] + (j - first entry of its row in the batch)
        shift = (start - (torch.cumsum(counts, 0) - counts)).index_select(0, row)
        src = torch.arange(total, device=self.device) + shift
        return Entries(len(idx), self.shape[1], row, self.col[src], self.val[src], counts)

    def dense(self, idx: np.ndarray, idx_device: torch.Tensor | None = None,
              out: torch.Tensor | None = None) -> torch.Tensor:
        return self.rows(idx, idx_device).dense(out)


def entries(m, idx: np.ndarray, device) -> Entries:
    """Entries of rows `idx` of a DeviceRows or of a scipy matrix (moved to `device`)."""
    if isinstance(m, DeviceRows):
        return m.rows(idx)
    return DeviceRows(m[idx], device).rows(np.arange(len(idx)))
