"""Engine speed and memory on ml-1m_clean, each beside its bare cost.

    python benchmarks/engine_speed.py [--data ../shared/datasets/ml-1m_clean] [--epochs 5]

Train epoch: the trainer's epoch (sparse batches densified, step sampling, loss history,
AdamW) vs the same MLP forward+backward+step on random dense batches of the same shapes.
Evaluation: `trainer.evaluate` (one denoising pass, valid and test metrics) vs `steps`
forward passes over all users on a random dense input plus one top-K.
Prints figures; it asserts nothing.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import config, data, methods, trainer  # noqa: E402
from engine.models import Denoiser  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def interleaved(ours, bare, repeat: int) -> tuple[list[float], list[float]]:
    """Time both alternately, so load from other processes hits both alike."""
    a, b = [], []
    for _ in range(repeat):
        for fn, out in ((ours, a), (bare, b)):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return a, b


def report(name: str, ours: list[float], bare: list[float], extra: str = "") -> None:
    mo, mb = statistics.median(ours), statistics.median(bare)
    print(f"{name}{extra}: median {mo:.3f}s vs bare {mb:.3f}s -> ratio {mo / mb:.2f} "
          f"(best-of-{len(ours)}: {min(ours):.3f}s vs {min(bare):.3f}s -> {min(ours) / min(bare):.2f})")


def bare_epoch(cfg, n_users, n_items, device):
    model = Denoiser(n_items, cfg["dims_dnn"], cfg["embedding_size"], cfg["mlp_act_func"], cfg["dropout"]).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["learning_rate"])
    bs = cfg["train_batch_size"]
    batches = [torch.rand(min(bs, n_users - lo), n_items, device=device) for lo in range(0, n_users, bs)]

    def run():
        for x in batches:
            t = torch.randint(0, cfg["steps"], (x.shape[0],), device=device)
            opt.zero_grad(set_to_none=True)
            loss = ((model(x, t) - x) ** 2).mean()
            loss.backward()
            opt.step()
    return run


def bare_eval(cfg, n_users, n_items, device):
    model = Denoiser(n_items, cfg["dims_dnn"], cfg["embedding_size"], cfg["mlp_act_func"], cfg["dropout"]).to(device).eval()
    step = trainer.eval_batch_size(cfg, n_items)
    xs = [torch.rand(min(step, n_users - lo), n_items, device=device) for lo in range(0, n_users, step)]

    @torch.no_grad()
    def run():
        ctx = torch.autocast(device.type, dtype=torch.bfloat16) if cfg["eval_precision"] == "bfloat16" else _null()
        with ctx:
            for x in xs:
                for i in reversed(range(cfg["steps"])):
                    x = model(x, torch.full((x.shape[0],), i, device=device))
                torch.topk(x.float(), max(cfg["topk"]))
    return run


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=str(ROOT / "configs" / "ml-1m_clean.yaml"))
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "ml-1m_clean"))
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--evals", type=int, default=3)
    ap.add_argument("--set", action="append", default=[])
    args = ap.parse_args()
    cfg = config.load(args.config, [f"data_path={args.data}", "device=cpu"] + args.set)
    torch.set_num_threads(cfg["threads"] or torch.get_num_threads())
    device = torch.device("cpu")
    t0 = time.perf_counter()
    ds = data.load(cfg)
    print(f"dataset {ds.n_users} users x {ds.n_items} items, loaded in {time.perf_counter() - t0:.2f}s; "
          f"torch threads {torch.get_num_threads()}")
    torch.manual_seed(cfg["seed"])
    method = methods.build(cfg, ds, device)
    train_in = ds.train_matrix(cfg["time-aware"], cfg["w_min"], cfg["w_max"])
    rng = np.random.default_rng(0)

    ours, bare = interleaved(lambda: trainer.train_epoch(method, train_in, rng.permutation(ds.n_users),
                                                         cfg["train_batch_size"], device),
                             bare_epoch(cfg, ds.n_users, ds.n_items, device), args.epochs)
    report("train epoch", ours, bare)
    ours, bare = interleaved(lambda: trainer.evaluate(method, cfg, ds, train_in, device),
                             bare_eval(cfg, ds.n_users, ds.n_items, device), args.evals)
    report("evaluation (valid+test)", ours, bare,
           f" [{cfg['steps']} steps, {trainer.eval_batch_size(cfg, ds.n_items)} users a batch, {cfg['eval_precision']}]")
    print(f"peak RSS {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
