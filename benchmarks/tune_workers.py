"""A fixed 8-trial sweep run with 1 worker, then with 2: wall times of `--tune` end to end.

    python benchmarks/tune_workers.py [--workers 1,2] [--users 3000] [--items 1000] [--epochs 6]

Each trial is a real worker process (torch import, data generation, training, evaluation);
with N workers each gets cores // N torch threads. The machine's load from other jobs
changes the figures: run it on a quiet machine, or report the load alongside.
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPACE = """\
# 2 x 2 x 2 = 8 trials
learning_rate choice [1e-3,5e-4]
dims_dnn choice ['[200]','[300]']
steps choice [5,10]
"""


def run(workers: int, args, tmp: Path) -> tuple[float, list[dict]]:
    hyper = tmp / "bench.test"
    hyper.write_text(SPACE)
    runs = tmp / f"runs-{workers}"
    cmd = [sys.executable, "-m", "diffrec_tui.cli", "--tune", str(hyper), "--config", str(REPO / "configs" / "default.yaml"),
           "--workers", str(workers), "--runs-dir", str(runs), "--set", f"synthetic_users={args.users}",
           "--set", f"synthetic_items={args.items}", "--set", f"epochs={args.epochs}", "--set", "eval_step=2",
           "--set", "device=cpu"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"sweep with {workers} workers failed (exit {proc.returncode}): {proc.stderr.strip()}")
    [sweep] = [p for p in runs.iterdir() if p.name.startswith("sweep-")]
    with open(sweep / "results.csv", newline="") as fh:
        return wall, list(csv.DictReader(fh))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    p.add_argument("--users", type=int, default=3000)
    p.add_argument("--items", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=6)
    args = p.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"8-trial grid on synthetic {args.users} users x {args.items} items, {args.epochs} epochs; "
          f"{cores} cores, load average {os.getloadavg()[0]:.1f} at start")
    walls = {}
    with tempfile.TemporaryDirectory() as tmp:
        for w in (int(x) for x in args.workers.split(",")):
            wall, rows = run(w, args, Path(tmp))
            walls[w] = wall
            trial_s = sum(float(r["seconds"]) for r in rows)
            print(f"workers {w} ({max(1, cores // w)} threads each): wall {wall:6.1f}s, "
                  f"{sum(r['status'] == 'finished' for r in rows)}/8 finished, sum of trial times {trial_s:6.1f}s, "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
    if 1 in walls:
        for w, wall in walls.items():
            if w != 1:
                print(f"speed-up with {w} workers: {walls[1] / wall:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
