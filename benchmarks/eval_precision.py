"""Does bf16 evaluation change the metrics? Evaluates one trained run in float32 and bfloat16.

    python benchmarks/eval_precision.py RUN_DIR

Prints both metric sets (to 4 decimals), their largest difference, and both timings.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.models import registry as methods  # noqa: E402
from engine.data import loaders as data  # noqa: E402
from engine.training import trainer  # noqa: E402
from engine.config import schema as config  # noqa: E402


def main(run_dir: str) -> None:
    ckpt = trainer.load_checkpoint(Path(run_dir) / "checkpoint.pt")
    cfg = config.resolve(ckpt["config"])
    torch.set_num_threads(cfg["threads"] or torch.get_num_threads())
    ds = data.load(cfg)
    device = torch.device("cpu")
    method = methods.build(cfg, ds, device)
    method.module.load_state_dict(ckpt["state_dict"])
    train_in = ds.train_matrix(cfg["time-aware"], cfg["w_min"], cfg["w_max"])
    results = {}
    for precision in ("float32", "bfloat16"):
        c = {**cfg, "eval_precision": precision}
        t0 = time.perf_counter()
        results[precision] = trainer.evaluate(method, c, ds, train_in, device)
        print(f"{precision}: {time.perf_counter() - t0:.2f}s")
    worst = 0.0
    for split, idx in (("valid", 0), ("test", 1)):
        for key in results["float32"][idx]:
            a, b = results["float32"][idx][key], results["bfloat16"][idx][key]
            worst = max(worst, abs(round(a, 4) - round(b, 4)))
            print(f"{split} {key:14s} fp32 {a:.4f}  bf16 {b:.4f}")
    print(f"largest difference at 4 decimals: {worst:.4f}")


if __name__ == "__main__":
    main(sys.argv[1])
