"""L-DiffRec vs DiffRec at Amazon-book scale: parameters, peak RSS and training time.

    python benchmarks/ldiffrec_scale.py [--batches 20] [--threads 0]

On seeded synthetic data the size of Amazon-book (108,822 users x 94,949 items, ~3.1 M
interactions), it trains each model for `--batches` batches of 400 users (only a batch is
ever densified) and prints, side by side: parameter count, peak resident memory, the
time of those batches, and the DiffRec / L-DiffRec ratios. L-DiffRec: n_cate 2,
in_dims [300], dims_dnn [300] (items clustered on an SVD of the training matrix, as the
synthetic data has no item_emb.npy); DiffRec: dims_dnn [1000].

Each model runs in its own child process, so each peak RSS is that model's alone (it
includes the interpreter, torch and the dataset, measured separately as "RSS after data").
Exit status 1 if L-DiffRec does not use fewer parameters and less memory than DiffRec, or
if either peak reaches the 8 GB budget.
"""
from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BUDGET_GB = 8.0
DATA = {"data_format": "synthetic", "dataset": "amazon-book-sized", "synthetic_users": 108_822,
        "synthetic_items": 94_949, "synthetic_interactions": 32, "synthetic_clusters": 50}
MODELS = {
    "LDiffRec": {"model": "LDiffRec", "n_cate": 2, "in_dims": [300], "out_dims": [], "dims_dnn": [300],
                 "ae_learning_rate": 0.001, "mlp_learning_rate": 0.0005},
    "DiffRec": {"model": "DiffRec", "dims_dnn": [1000], "learning_rate": 0.001},
}
COMMON = {"steps": 40, "noise_schedule": "linear-var", "noise_scale": 0.005, "noise_min": 0.005,
          "noise_max": 0.02, "train_batch_size": 400, "device": "cpu", "seed": 1}


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # Linux: KiB


def child(name: str, batches: int, threads: int) -> dict:
    """Runs in a fresh process: build data and model, train `batches` batches, report."""
    sys.path.insert(0, str(REPO_ROOT))
    import numpy as np
    import torch

    from engine.models import registry as methods
    from engine.data import synthetic
    from engine.config import schema as config
    from engine.training.evaluation import dense_rows

    cfg = config.resolve({**DATA, **COMMON, **MODELS[name], "threads": threads})
    torch.set_num_threads(threads or torch.get_num_threads())
    torch.manual_seed(cfg["seed"])
    t0 = time.perf_counter()
    ds = synthetic.generate(cfg)
    train = ds.train_matrix()
    data_s, data_rss = time.perf_counter() - t0, peak_rss_gb()
    t0 = time.perf_counter()
    method = methods.build(cfg, ds, torch.device("cpu"))
    build_s = time.perf_counter() - t0
    order = np.random.default_rng(cfg["seed"]).permutation(ds.n_users)
    bs = cfg["train_batch_size"]
    times = []
    for b in range(batches):
        lo = (b * bs) % ds.n_users
        x = dense_rows(train, order[lo:lo + bs], torch.device("cpu"))
        t = time.perf_counter()
        loss = method.train_batch(x)
        times.append(time.perf_counter() - t)
        if not math.isfinite(loss):
            raise SystemExit(f"{name}: loss became {loss} at batch {b + 1}")
    params = sum(p.numel() for p in method.module.parameters())
    out = {"model": name, "parameters": params, "peak_rss_gb": peak_rss_gb(), "data_rss_gb": data_rss,
           "train_s": sum(times), "first_batch_s": times[0], "batches": batches, "data_s": data_s,
           "build_s": build_s, "threads": torch.get_num_threads(),
           "interactions": int(ds.stats["n_train"] + ds.stats["n_valid"] + ds.stats["n_test"]),
           "users": ds.n_users, "items": ds.n_items}
    if hasattr(method, "info"):
        out["info"] = method.info()
    return out


def run_child(name: str, args) -> dict:
    cmd = [sys.executable, __file__, "--child", name, "--batches", str(args.batches), "--threads", str(args.threads)]
    res = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{name} child failed (exit {res.returncode}):\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def report(r: dict[str, dict]) -> int:
    lr, dr = r["LDiffRec"], r["DiffRec"]
    print(f"data: {lr['users']:,} users x {lr['items']:,} items, {lr['interactions']:,} interactions "
          f"(synthetic, seeded); {lr['batches']} training batches of {COMMON['train_batch_size']} users; "
          f"{lr['threads']} torch threads")
    if "info" in lr:
        print(f"L-DiffRec clusters {lr['info']['clusters']}, latent dims {lr['info']['latent_dims']}")
    rows = [("parameters", "parameters", "{:,}"), ("peak RSS (GB)", "peak_rss_gb", "{:.2f}"),
            ("RSS after data (GB)", "data_rss_gb", "{:.2f}"), ("model build (s)", "build_s", "{:.1f}"),
            (f"train, {lr['batches']} batches (s)", "train_s", "{:.1f}"),
            ("  of which batch 1 (s)", "first_batch_s", "{:.1f}")]
    print(f"{'':28}{'L-DiffRec':>14}{'DiffRec':>14}{'DiffRec / L-DiffRec':>22}")
    for label, key, fmt in rows:
        ratio = dr[key] / lr[key] if lr[key] else float("nan")
        print(f"{label:28}{fmt.format(lr[key]):>14}{fmt.format(dr[key]):>14}{ratio:>21.2f}x")
    model_l = lr["peak_rss_gb"] - lr["data_rss_gb"]
    model_d = dr["peak_rss_gb"] - dr["data_rss_gb"]
    print(f"{'RSS above data (GB)':28}{model_l:>14.2f}{model_d:>14.2f}{model_d / model_l:>21.2f}x")
    checks = {"L-DiffRec has fewer parameters": lr["parameters"] < dr["parameters"],
              "L-DiffRec has a lower peak RSS": lr["peak_rss_gb"] < dr["peak_rss_gb"],
              f"both peaks under {BUDGET_GB:g} GB": max(lr["peak_rss_gb"], dr["peak_rss_gb"]) < BUDGET_GB}
    for what, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
    return 0 if all(checks.values()) else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--child", choices=list(MODELS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.batches, args.threads)))
        return 0
    results = {name: run_child(name, args) for name in MODELS}
    return report(results)


if __name__ == "__main__":
    sys.exit(main())
