"""The fit loop: batches, evaluation, early stopping, checkpoints. It yields the events of
the run-directory contract as dicts (`type` plus data); the worker writes them."""
from __future__ import annotations

import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from engine.models import registry as methods
from engine.config.fields import metric_key
from engine.data.dataset import Dataset, split_counts
from engine.errors import ConfigError
from engine.training.evaluation import device_rows, evaluate
from engine.models.denoiser import parameter_count
from engine.config.recbole_keys import gpu_index, requested_device
from engine.records.runs import RunDir
from engine.training.sparse import DeviceRows
from engine.training.stopping import StoppingRule


class TrainingFailed(Exception):
    """Training could not go on (e.g. the loss became NaN); the message says why."""


def select_device(name: str, gpu: int | None = None) -> torch.device:
    """The torch device of a config's `device`; `gpu` (RecBole's gpu_id) picks the GPU
    that `auto` and `cuda` mean."""
    name = str(name).lower()
    if name in ("auto", "cuda") and gpu is not None and torch.cuda.is_available():
        name = f"cuda:{gpu}"
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"config: device `{name}` asked for but CUDA is not available here; use device=auto or cpu")
    if name.startswith("cuda:") and int(name[5:]) >= torch.cuda.device_count():
        raise ConfigError(f"config: device `{name}` does not exist ({torch.cuda.device_count()} GPUs); use cuda:0 "
                          "(or gpu_id: '0')")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("config: device `mps` is not available here; use device=auto or cpu")
    return torch.device(name)


def train_epoch(method, train_in, order: np.ndarray, batch_size: int, device,
                should_stop: Callable[[], bool] = lambda: False) -> float | None:
    """One pass over the users in `order`; the mean batch loss, or None if asked to stop.
    Batches are densified on `device` and losses summed there: the host reads the device
    once per epoch (a non-finite loss shows in the mean)."""
    rows = device_rows(train_in, device)
    order_dev = torch.from_numpy(np.ascontiguousarray(order, dtype=np.int64)).to(rows.device)
    total, batches, x = 0.0, 0, None
    for lo in range(0, len(order), batch_size):
        if should_stop():
            return None
        hi = min(lo + batch_size, len(order))
        if x is not None and x.shape[0] != hi - lo:
            x = None
        x = rows.dense(order[lo:hi], order_dev[lo:hi], out=x)
        total = total + method.train_batch(x)
        batches += 1
    return float(total) / max(batches, 1)


def peak_rss_gb() -> float | None:
    """This process's peak resident memory so far (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux, bytes on macOS
    return round(peak / (1024 ** 3 if sys.platform == "darwin" else 1024 ** 2), 3)


def seed_everything(seed: int, reproducibility: bool = True) -> None:
    """Seed every generator; `reproducibility` (RecBole's key) picks deterministic cuDNN
    kernels over its benchmark mode."""
    random.seed(seed)
    torch.manual_seed(seed)
    np.random.seed(seed % (2 ** 32))
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = reproducibility
    torch.backends.cudnn.benchmark = not reproducibility


class Checkpoints:
    """Best model (checkpoint.pt) and last training state (resume.pt), written atomically."""

    def __init__(self, run_dir: str | Path | None):
        self.dir = Path(run_dir) if run_dir else None

    def _save(self, obj: dict, name: str) -> None:
        if self.dir is None:
            return
        tmp = self.dir / (name + ".tmp")
        torch.save(obj, tmp)
        os.replace(tmp, self.dir / name)

    def best(self, obj: dict) -> None:
        self._save(obj, "checkpoint.pt")

    def last(self, obj: dict) -> None:
        self._save(obj, "resume.pt")

    def load_last(self) -> dict | None:
        f = self.dir / "resume.pt" if self.dir else None
        if f is None or not f.is_file():
            return None
        return load_checkpoint(f)


def load_checkpoint(path: str | Path) -> dict:
    from engine.errors import InputError
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(f"checkpoint: {path}: not found") from None
    except Exception as exc:  # corrupt, truncated or not a safe checkpoint
        raise InputError(f"checkpoint: {path}: cannot be read safely ({exc.__class__.__name__}); "
                         "re-train the run") from None


def fit(cfg: dict, ds: Dataset, run_dir: str | Path | None = None,
        should_stop: Callable[[], bool] = lambda: False, resume: bool = False) -> Iterator[dict]:
    """Train `cfg` on `ds`, yielding events. Ends with `finished`, `stopped` (should_stop
    turned true; checked at every batch) or raises TrainingFailed."""
    t_setup = time.perf_counter()
    torch.set_num_threads(cfg["threads"] or os.cpu_count() or 1)
    device = select_device(requested_device(cfg), gpu_index(cfg))
    seed_everything(cfg["seed"], cfg["reproducibility"])
    method = methods.build(cfg, ds, device)
    ckpt = Checkpoints(run_dir)
    train_in = DeviceRows(ds.train_matrix(cfg["time-aware"], cfg["w_min"], cfg["w_max"]), device)
    key = metric_key(cfg["valid_metric"])
    rule = StoppingRule.of(cfg)  # compares signed scores: bigger is better
    fingerprint = ds.fingerprint()

    st = {"epoch": 0, "best_epoch": 0, "best_value": -math.inf, "best_valid": {}, "best_test": {},
          "bad_evals": 0, "train_seconds": 0.0, "eval_seconds": 0.0}
    if resume:
        from engine.records.checkpoints import restore_resume
        restore_resume(method, ckpt.load_last(), fingerprint, st, Path(run_dir) / "resume.pt")

    yield {"type": "started", "pid": os.getpid(), "device": str(device), "model": cfg["model"],
           "dataset": ds.stats, "parameters": parameter_count(method.module),
           "buffer_values": sum(b.numel() for b in method.module.buffers()),
           "model_info": getattr(method, "info", dict)(),  # e.g. L-DiffRec's cluster sizes
           "fingerprint": fingerprint, "resumed_from_epoch": st["epoch"] if resume else None,
           "setup_seconds": round(time.perf_counter() - t_setup, 3)}

    def snapshot(kind: str) -> dict:
        return {"state_dict": method.module.state_dict(), "config": cfg, "fingerprint": fingerprint,
                "n_users": ds.n_users, "n_items": ds.n_items, "epoch": st["epoch"],
                "valid": st["best_valid"], "test": st["best_test"], "kind": kind}

    def run_eval() -> Iterator[dict]:
        t0 = time.perf_counter()
        valid, test = evaluate(method, cfg, ds, train_in, device)
        st["eval_seconds"] += time.perf_counter() - t0
        yield {"type": "eval", "epoch": st["epoch"], "valid": valid, "test": test,
               "seconds": round(time.perf_counter() - t0, 3)}
        if rule.improves(rule.score(valid.get(key)), st["best_value"]):
            st.update(best_value=rule.score(valid[key]), best_epoch=st["epoch"], best_valid=valid, best_test=test, bad_evals=0)
            ckpt.best(snapshot("best"))
            yield {"type": "checkpoint", "epoch": st["epoch"], key: valid[key]}
        else:
            st["bad_evals"] += 1

    def summary(status: str, **extra) -> dict:
        return {"type": status, "status": status, "best_epoch": st["best_epoch"], "epochs_run": st["epoch"],
                "valid": st["best_valid"], "test": st["best_test"], "split": split_counts(ds.stats),
                "train_seconds": round(st["train_seconds"], 3), "eval_seconds": round(st["eval_seconds"], 3),
                "peak_rss_gb": peak_rss_gb(), **extra}

    if not method.iterative:
        t0 = time.perf_counter()
        method.fit(ds.train_matrix())
        st["train_seconds"] += time.perf_counter() - t0
        st["epoch"] = 1
        yield from run_eval()
        yield summary("finished", reason="closed-form model fitted")
        return

    n = ds.n_users
    while st["epoch"] < cfg["epochs"]:
        epoch = st["epoch"] + 1
        t0 = time.perf_counter()
        order = np.random.default_rng([cfg["seed"], epoch]).permutation(n) if cfg["shuffle"] else np.arange(n)
        loss = train_epoch(method, train_in, order, cfg["train_batch_size"], device, should_stop)
        if loss is None:
            yield summary("stopped", reason="stopped by user")
            return
        if not math.isfinite(loss):
            raise TrainingFailed(f"loss became {loss} in epoch {epoch}: lower learning_rate or noise_scale")
        seconds = time.perf_counter() - t0
        st["train_seconds"] += seconds
        st["epoch"] = epoch
        yield {"type": "epoch", "epoch": epoch, "loss": loss, "seconds": round(seconds, 3),
               "epochs": cfg["epochs"]}
        if epoch % cfg["eval_step"] == 0 or epoch == cfg["epochs"]:
            yield from run_eval()
            ckpt.last({**snapshot("last"), "optimizers": [o.state_dict() for o in method.optimizers()],
                       "extra": method.extra_state(), "progress": dict(st), "torch_rng": torch.get_rng_state()})
            if rule.exhausted(st["bad_evals"]):
                yield summary("finished", reason=f"early stop: no better {cfg['valid_metric']} "
                                                 f"in {rule.evaluations()} evaluations")
                return
    yield summary("finished", reason="reached epochs")


def fit_into(run: RunDir, cfg: dict, ds: Dataset, should_stop: Callable[[], bool] = lambda: False,
             resume: bool = False) -> None:
    """Train into a run directory: every event appended to its events.jsonl, the summary
    written when training ends. The worker process does this; tests and benchmarks call it
    in-process. Raises TrainingFailed like `fit`."""
    for ev in fit(cfg, ds, run.path, should_stop, resume=resume):
        ev = run.event(ev.pop("type"), **ev)
        if ev["type"] in ("finished", "stopped"):
            run.write_summary({k: v for k, v in ev.items() if k != "type"})
