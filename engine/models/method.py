"""The one interface the trainer, the evaluation and the Inspector drive every model through.

A method turns a batch of users' (dense) training vectors into scores over all items.
Iterative methods learn batch by batch; closed-form ones (`iterative = False`) fit once on the
sparse training matrix.
"""
from __future__ import annotations

import scipy.sparse as sp
import torch
from torch import nn


class Method:
    iterative = True
    # keyword options `predict` takes besides x: "trajectory" (a list the reverse steps are
    # appended to) and "generator" (the sampling noise's torch.Generator)
    predict_options: frozenset[str] = frozenset()
    module: nn.Module  # everything with parameters; its state_dict is the checkpoint

    def train_batch(self, x: torch.Tensor) -> torch.Tensor:
        """One update; the batch's loss as a 0-dim tensor on the device (reading it waits)."""
        raise NotImplementedError

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def fit(self, train: sp.csr_matrix) -> None:
        """Closed-form methods only."""

    def optimizers(self) -> list:
        return []

    def extra_state(self) -> dict:
        """Training state beyond weights and optimizers (kept for --resume)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass
