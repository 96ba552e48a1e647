"""Torch's intra-op threads, set for a block: work split across Python threads (evaluation's
batches side by side, clustering's restarts) runs each kernel on one thread."""
from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def single_threaded_kernels():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)
