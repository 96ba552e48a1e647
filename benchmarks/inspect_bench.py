"""Timings of engine.inspection.inspector on a finished run, and a check of --export-recs.

    python benchmarks/inspect_bench.py RUN_DIR [--user U] [--topk K] [--export OUT.csv]

Prints: Inspector load, one user() call, one trajectory step's data (vector access and the
chart's sorted curve), one what-if edit, the all-users table; with --export, the export
time, its row count, and Recall/NDCG@K re-scored from the CSV alone against the test
split next to the run's own test metrics.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.inspection.inspector import Inspector  # noqa: E402


def timed(fn, repeat: int = 5):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times), min(times)


def rescore(csv_path: Path, ds, k: int) -> tuple[int, float, float]:
    """Row count, Recall@k and NDCG@k from the CSV alone (users without test items count 0)."""
    a = np.loadtxt(csv_path, delimiter=",", skiprows=1, usecols=(0, 1, 2), dtype=np.int64, ndmin=2)
    a = a[a[:, 1] <= k]
    hit = np.asarray(ds.test[a[:, 0], a[:, 2]]).ravel() > 0
    n_test = np.diff(ds.test.indptr)
    hits = np.bincount(a[hit, 0], minlength=ds.n_users)
    dcg = np.bincount(a[hit, 0], weights=1.0 / np.log2(a[hit, 1] + 1.0), minlength=ds.n_users)
    ideal = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(k) + 2.0))])[np.minimum(n_test, k)]
    has = n_test > 0
    recall = np.where(has, hits / np.maximum(n_test, 1), 0.0).sum() / ds.n_users
    ndcg = np.where(has, dcg / np.where(has, ideal, 1.0), 0.0).sum() / ds.n_users
    return len(a), recall, ndcg


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run_dir")
    p.add_argument("--user", type=int, default=0)
    p.add_argument("--topk", type=int, default=20)
    p.add_argument("--export", type=Path, help="export every user's top-K here, then re-score it")
    p.add_argument("--skip-table", action="store_true", help="skip the all-users pass (slow on big runs)")
    p.add_argument("--rescore", type=Path, help="only re-score this CSV (e.g. written by --export-recs)")
    args = p.parse_args()

    t0 = time.perf_counter()
    insp = Inspector(args.run_dir)
    if args.rescore:
        report_rescore(insp, args.rescore, args.topk)
        return
    print(f"run {insp.path.name}: {insp.model}, {insp.n_users} users x {insp.n_items} items, "
          f"steps {insp.cfg['steps']}, device {insp.device}")
    print(f"load (checkpoint + dataset + model): {time.perf_counter() - t0:.3f}s")

    view, med, best = timed(lambda: insp.user(args.user, args.topk))
    print(f"user(): median {med * 1000:.1f} ms, min {best * 1000:.1f} ms ({view.steps} trajectory steps)")
    mid = view.steps // 2
    _, med, best = timed(lambda: view.step(mid), repeat=1000)
    print(f"trajectory step data (vector access): median {med * 1e6:.2f} us")
    from diffrec_tui.widgets.score_chart import curve
    _, med, best = timed(lambda: curve(view.step(mid), view.marked()), repeat=50)
    print(f"trajectory step chart data (sorted curve + marks): median {med * 1000:.2f} ms")
    hist = [h.item for h in view.history]
    add = view.top[0].item
    w, med, best = timed(lambda: insp.what_if(args.user, remove=hist[:1], add=[add], topk=args.topk))
    print(f"what_if (remove 1, add 1, re-denoise both): median {med * 1000:.1f} ms, min {best * 1000:.1f} ms; "
          f"{len(w.entering)} entering, {len(w.leaving)} leaving, {len(w.moved)} moved")
    _, med, _ = timed(lambda: insp.what_if(args.user, remove=hist[:1], add=[add], topk=args.topk, before=view))
    print(f"what_if reusing the shown view: median {med * 1000:.1f} ms")

    if args.skip_table:
        return
    t0 = time.perf_counter()
    table = insp.user_table()
    print(f"user_table (all users, one pass): {time.perf_counter() - t0:.2f}s; mean test recall@20 "
          f"{table.test['recall@20'].mean():.4f} vs checkpoint {insp.checkpoint_test.get('recall@20', float('nan')):.4f}")

    if args.export:
        t0 = time.perf_counter()
        n = insp.export_recs(args.export, args.topk)
        print(f"export_recs top-{args.topk}: {n} rows ({insp.n_users} x {args.topk} = "
              f"{insp.n_users * args.topk}) in {time.perf_counter() - t0:.2f}s")
        report_rescore(insp, args.export, args.topk)


def report_rescore(insp, csv_path: Path, k: int) -> None:
    rows, recall, ndcg = rescore(csv_path, insp.ds, k)
    print(f"{csv_path}: {rows} rows with rank <= {k} ({insp.n_users} users x {k} = {insp.n_users * k})")
    print(f"re-scored from the CSV: recall@{k} {recall:.6f} ndcg@{k} {ndcg:.6f}; run's test: "
          f"recall@{k} {insp.checkpoint_test.get(f'recall@{k}', float('nan')):.6f} "
          f"ndcg@{k} {insp.checkpoint_test.get(f'ndcg@{k}', float('nan')):.6f}")


if __name__ == "__main__":
    main()
