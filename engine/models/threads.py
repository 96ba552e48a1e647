"""Torch's intra-op threads, set for a block: work split across Python threads (evaluation's
batches side by side, clustering's restarts) runs each kernel on one thread. numpy's BLAS
(which CPU predictions may multiply with, see cpu_blas) follows the same count."""
from __future__ import annotations

import contextlib

import torch

from engine.models import cpu_blas


@contextlib.contextmanager
def kernel_threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with cpu_blas.blas_threads(n):
            yield
    finally:
        torch.set_num_threads(before)


def single_threaded_kernels():
    return kernel_threads(1)
