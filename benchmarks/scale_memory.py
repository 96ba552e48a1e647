"""Memory at Amazon-book scale: 108,822 users x 94,949 items, ~3.1 M interactions.

    python benchmarks/scale_memory.py [--batches 20] [--eval-users 2000] [--set key=value ...]

Generates the synthetic dataset, trains DiffRec (dims_dnn [1000]) for 20 batches and
evaluates 2,000 users, printing time and peak RSS after each phase. The user x item
matrix stays sparse; only one batch (400 x 94,949) is dense at a time.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.models import registry as methods  # noqa: E402
from engine.data import loaders as data  # noqa: E402
from engine.training import trainer  # noqa: E402
from engine.training import evaluation  # noqa: E402
from engine.config import schema as config  # noqa: E402
from engine.config import files as config_files  # noqa: E402
from engine.models.denoiser import parameter_count  # noqa: E402

AMAZON = ["synthetic_users=108822", "synthetic_items=94949", "synthetic_interactions=32",
          "dims_dnn=[1000]", "steps=5", "device=cpu", "dataset=amazon-book-synthetic"]


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--eval-users", type=int, default=2000)
    ap.add_argument("--set", action="append", default=[])
    args = ap.parse_args()
    cfg = config.resolve(dict(config_files.parse_override(s) for s in AMAZON + args.set))
    device = torch.device("cpu")

    t0 = time.perf_counter()
    ds = data.load(cfg)
    print(f"load: {ds.n_users} users x {ds.n_items} items, {ds.stats['n_train'] + ds.stats['n_valid'] + ds.stats['n_test']:,} "
          f"interactions in {time.perf_counter() - t0:.1f}s; peak RSS {rss_gb():.2f} GB")

    torch.manual_seed(0)
    method = methods.build(cfg, ds, device)
    train_in = ds.train_matrix()
    order = np.random.default_rng(0).permutation(ds.n_users)[: args.batches * cfg["train_batch_size"]]
    t0 = time.perf_counter()
    trainer.train_epoch(method, train_in, order, cfg["train_batch_size"], device)
    print(f"train: {args.batches} batches of {cfg['train_batch_size']} in {time.perf_counter() - t0:.1f}s, "
          f"{parameter_count(method.module):,} parameters; peak RSS {rss_gb():.2f} GB")

    users = np.sort(np.random.default_rng(1).choice(ds.n_users, args.eval_users, replace=False))
    t0 = time.perf_counter()
    valid, test = trainer.evaluate(method, cfg, ds, train_in, device, users=users)
    print(f"eval: {args.eval_users} users ({evaluation.eval_batch_size(cfg, ds.n_items)} per batch) in "
          f"{time.perf_counter() - t0:.1f}s, test recall@20 {test['recall@20']:.4f}; peak RSS {rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
