"""Evaluation: all-item ranking of every user, valid and test from one prediction pass.

On a CPU with several threads, batches of users are scored side by side, one batch per
thread with single-threaded kernels, instead of one batch at a time with every kernel split
across the threads: no barrier per kernel (a denoising pass is thousands of small ones), so
a thread that the OS delays (another program on the machine) holds up only its own batch.
Results are summed in batch order, so they do not depend on the threads.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator

import numpy as np
import scipy.sparse as sp
import torch

from engine.models.threads import single_threaded_kernels
from engine.training import metrics
from engine.training import sparse
from engine.data.dataset import Dataset
from engine.training.sparse import DeviceRows

CPU_EVAL_BATCH_BYTES = 8 << 20  # auto eval batch on a CPU: a batch's scores fill about 8 MB
MIN_CPU_EVAL_BATCH = 128  # ... but at least this many users (wide catalogues: weights are re-read per batch)
GPU_EVAL_SCORES = 1 << 27  # auto eval batch on a GPU: users x items scores held at once (512 MB fp32)


def dense_rows(m: sp.csr_matrix | DeviceRows, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """Densify only the given rows of a sparse matrix (one batch at a time), on `device`."""
    return sparse.entries(m, rows, device).dense()


def device_rows(m: sp.csr_matrix | DeviceRows, device: torch.device) -> DeviceRows:
    return m if isinstance(m, DeviceRows) else DeviceRows(m, device)


def eval_batch_size(cfg: dict, n_items: int, device: torch.device | str = "cpu", n_users: int = 0) -> int:
    """Users scored at once. eval_batch_size counts scores (users x items), as RecBole's full
    ranking; 0 = auto: on a CPU as many users as keep a batch of scores near
    CPU_EVAL_BATCH_BYTES, below glibc's 32 MB mmap threshold (bigger batches are fresh mmaps
    and page faults on every step); with `n_users`, evened out into a multiple of the
    threads' count of equal batches, so no thread waits alone for a short last batch. On a
    GPU as many as fit GPU_EVAL_SCORES."""
    n_items = max(1, n_items)
    if cfg["eval_batch_size"]:
        return max(1, cfg["eval_batch_size"] // n_items)
    if torch.device(device).type != "cpu":
        return max(1, GPU_EVAL_SCORES // n_items)
    size = max(MIN_CPU_EVAL_BATCH, CPU_EVAL_BATCH_BYTES // (4 * n_items))
    if n_users <= size:
        return size
    threads = max(1, torch.get_num_threads())
    batches = -(-math.ceil(n_users / size) // threads) * threads
    return -(-n_users // batches)


def predict(method, x: torch.Tensor, precision: str, **options) -> torch.Tensor:
    """The method's scores for the batch `x` at the run's eval_precision; `options` are those
    of method.predict_options (the Inspector's trajectory and generator)."""
    if precision == "bfloat16":
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16):
            return method.predict(x, **options).float()
    return method.predict(x, **options).float()


def score_users(method, train_in, users: np.ndarray, device, precision: str) -> torch.Tensor:
    return predict(method, dense_rows(train_in, users, device), precision)


def evaluate(method, cfg: dict, ds: Dataset, train_in, device,
             users: np.ndarray | None = None, test_per_user: dict | None = None) -> tuple[dict, dict]:
    """Valid and test metrics from one denoising pass: valid ranks with the training items
    masked, test with training and validation items masked. Everything stays on `device`
    until the final averages. `test_per_user`, when given, is filled with each test
    metric's per-user values (numpy, in `users` order) for paired significance tests."""
    users = np.arange(ds.n_users) if users is None else users
    kmax = min(max(cfg["topk"]), ds.n_items)
    train_rows, valid, test = (device_rows(m, device) for m in (train_in, ds.valid, ds.test))
    users_dev = torch.from_numpy(np.ascontiguousarray(users, dtype=np.int64)).to(train_rows.device)
    step = eval_batch_size(cfg, ds.n_items, device, len(users))

    def batch(lo: int) -> tuple[dict, dict]:
        rows, rows_dev = users[lo:lo + step], users_dev[lo:lo + step]
        history = train_rows.rows(rows, rows_dev)
        scores = predict(method, history.dense(), cfg["eval_precision"])
        return split_metrics(scores, history, valid.rows(rows, rows_dev), test.rows(rows, rows_dev),
                             cfg["topk"], cfg["metrics"], kmax)

    acc_v, acc_t = metrics.Accumulator(len(users)), metrics.Accumulator(len(users))
    random = cfg.get("sampling_noise") or cfg.get("sampling_steps", 0) > 0  # draws from the global generator
    kept: list[dict] = []
    for v, t in map_batches(batch, range(0, len(users), step), train_rows.device, ordered_draws=random):
        acc_v.add(v)
        acc_t.add(t)
        if test_per_user is not None:
            kept.append(t)
    if test_per_user is not None and kept:
        test_per_user.update({k: torch.cat([t[k] for t in kept]).float().cpu().numpy() for k in kept[0]})
    return acc_v.mean(), acc_t.mean()


def split_metrics(scores: torch.Tensor, history, valid, test, topk: list[int], names: list[str],
                  kmax: int) -> tuple[dict, dict]:
    """Per-user valid and test metrics of one batch's scores (masked in place), the paper's
    protocol: valid ranks with the training items masked, test with training and validation
    items masked. history/valid/test: the batch's rows (csr or Entries)."""
    metrics.mask_(scores, history)
    v = metrics.per_user(torch.topk(scores, kmax).indices, valid, topk, names)
    metrics.mask_(scores, valid)
    t = metrics.per_user(torch.topk(scores, kmax).indices, test, topk, names)
    return v, t


def map_batches(fn: Callable, items, device: torch.device, ordered_draws: bool = False) -> Iterator:
    """fn over items, results in order: side by side, one item per thread, on a CPU with
    several threads (unless fn draws random numbers, whose order must not depend on timing)."""
    items = list(items)
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads < 2 or len(items) < 2 or ordered_draws:
        yield from map(fn, items)
        return
    with single_threaded_kernels(), ThreadPoolExecutor(min(threads, len(items))) as pool:
        yield from pool.map(fn, items)


