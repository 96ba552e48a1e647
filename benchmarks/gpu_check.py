"""The GPU check: one prepared script for a machine with a CUDA GPU (about 2-4 minutes).

    python benchmarks/gpu_check.py [--data ../shared/datasets/ml-1m_clean] [--device auto]
                                   [--config configs/ml-1m_clean.yaml] [--set key=value ...]

1. environment: torch, CUDA, the GPU; what `device: auto` resolves to (it must be the GPU);
2. limits on the device: a train epoch and an evaluation against the GPU's FLOP floor
   (benchmarks/limits.py, matmul rates measured on this GPU), the fixed cost of a run and the
   whole run to early stop with `--device auto`, test Recall@20 / NDCG@20;
3. the same phases on this machine's CPU (one epoch, one evaluation) and the speed-up;
4. evaluation in bfloat16 against float32 on the same trained weights: do the metrics agree
   to 4 decimals? (bf16 is opt-in, `eval_precision: bfloat16`; this says whether it may be).
`--device cpu` runs every step on the CPU (how the script is tested without a GPU).
Prints figures; exits 1 only if a step cannot run.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import limits  # noqa: E402  (first: it sets the worker's OpenMP policy before torch loads)
import torch  # noqa: E402
from engine.models import registry as methods  # noqa: E402
from engine.data import loaders as data  # noqa: E402
from engine.training import trainer  # noqa: E402
from engine.config import files as config_files  # noqa: E402


def environment(device_arg: str) -> torch.device:
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, CUDA build {torch.version.cuda}, "
          f"CUDA available {torch.cuda.is_available()}, {os.cpu_count()} CPUs")
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            print(f"  cuda:{i} {p.name}, {p.total_memory / 1024 ** 3:.0f} GiB")
    auto = trainer.select_device("auto")
    print(f"device auto -> {auto}")
    device = trainer.select_device(device_arg)
    if device_arg == "auto" and device.type == "cpu":
        print("no GPU here: `device: auto` chose the CPU; run with --device cpu to check the script itself")
    return device


def section(title: str) -> None:
    print(f"\n== {title} ({limits.load()})", flush=True)


def phases(args, overrides: list[str], device: torch.device, whole_run: bool) -> dict:
    """limits.py's in-process phases on `device`, then (optionally) its CLI phases."""
    cfg = config_files.load(args.config, overrides + [f"device={device}"])
    ds = data.load(cfg)
    out = limits.in_process(cfg, ds, device, args.epochs, args.evals)
    if whole_run:
        run = limits.whole_run(args.config, overrides + ["device=auto" if args.device == "auto" else f"device={device}"], out)
        limits.startup(args.config, overrides + [f"device={device}"], out)
        out["run"] = run
    return out


def bf16_agreement(args, overrides: list[str], device: torch.device) -> None:
    """Train a few epochs, then evaluate the same weights in float32 and in bfloat16."""
    cfg = config_files.load(args.config, overrides + [f"device={device}"])
    ds = data.load(cfg)
    trainer.seed_everything(cfg["seed"])
    method = methods.build(cfg, ds, device)
    train = trainer.device_rows(ds.train_matrix(cfg["time-aware"], cfg["w_min"], cfg["w_max"]), device)
    for epoch in range(1, cfg["eval_step"] + 1):
        order = torch.randperm(ds.n_users, generator=torch.Generator().manual_seed(epoch)).numpy()
        trainer.train_epoch(method, train, order, cfg["train_batch_size"], device)
    results = {}
    for precision in ("float32", "bfloat16"):
        t0 = time.perf_counter()
        try:
            valid, test = trainer.evaluate(method, {**cfg, "eval_precision": precision}, ds, train, device)
        except RuntimeError as exc:  # bf16 unsupported on this device
            print(f"  {precision}: not available here ({exc.__class__.__name__}: {str(exc)[:80]})")
            continue
        limits.sync(device)
        results[precision] = (time.perf_counter() - t0, test)
        print(f"  {precision}: {results[precision][0]:.3f}s, test R@20 {test['recall@20']:.4f} "
              f"N@20 {test['ndcg@20']:.4f}")
    if len(results) == 2:
        a, b = results["float32"][1], results["bfloat16"][1]
        same = all(round(a[k], 4) == round(b[k], 4) for k in a)
        print(f"  bf16 metrics equal to 4 decimals: {same}; speed-up {results['float32'][0] / results['bfloat16'][0]:.2f}x")


def main() -> int:
    ap = argparse.ArgumentParser()
    limits.add_common_args(ap, device="auto", evals=3)
    ap.add_argument("--cpu-epochs", type=int, default=1)
    args = ap.parse_args()
    overrides = limits.data_overrides(args.config, args.data) + args.set
    section("environment")
    device = environment(args.device)
    section(f"limits on {device}")
    dev = phases(args, overrides, device, whole_run=True)
    if device.type != "cpu":
        section("the same phases on the CPU")
        cpu_args = argparse.Namespace(**{**vars(args), "epochs": args.cpu_epochs, "evals": 1})
        cpu = phases(cpu_args, overrides, torch.device("cpu"), whole_run=False)
        for name in ("train", "eval"):
            if dev.get(name) and cpu.get(name):
                print(f"speed-up over CPU, {name}: {min(cpu[name]) / min(dev[name]):.1f}x")
    section("bfloat16 evaluation against float32")
    bf16_agreement(args, overrides, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
