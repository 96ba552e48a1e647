"""The fit loop: batches, evaluation, early stopping, checkpoints. It yields the events of
the run-directory contract as dicts (`type` plus data); the worker writes them."""
from __future__ import annotations

import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from engine.models import cpu_blas
from engine.models import registry as methods
from engine.config.fields import metric_key
from engine.data.dataset import Dataset, model_input, split_counts
from engine.errors import ConfigError
from engine.training.evaluation import device_rows, evaluate
from engine.models.denoiser import parameter_count
from engine.config.recbole_keys import gpu_index, requested_device
from engine.records import per_user
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
    """Best model (the run's checkpoint) and last training state (its resume point), written
    atomically; the run directory names the files."""

    def __init__(self, run_dir: str | Path | None):
        self.run = RunDir(run_dir) if run_dir else None

    @staticmethod
    def _save(obj: dict, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        torch.save(obj, tmp)
        os.replace(tmp, path)

    def best(self, obj: dict) -> None:
        if self.run is not None:
            self._save(obj, self.run.checkpoint_file)

    def last(self, obj: dict) -> None:
        if self.run is not None:
            self._save(obj, self.run.resume_file)

    def load_last(self) -> dict | None:
        if self.run is None or not self.run.resume_file.is_file():
            return None
        return load_checkpoint(self.run.resume_file)


def load_checkpoint(path: str | Path) -> dict:
    from engine.errors import InputError
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(f"checkpoint: {path}: not found") from None
    except Exception as exc:  # corrupt, truncated or not a safe checkpoint
        raise InputError(f"checkpoint: {path}: cannot be read safely ({exc.__class__.__name__}); "
                         "re-train the run") from None


@dataclass
class Progress:
    """Where training is: what resume.pt's `progress` holds (engine.records.checkpoints.PROGRESS)."""
    epoch: int = 0
    best_epoch: int = 0
    best_value: float = -math.inf
    best_valid: dict = field(default_factory=dict)
    best_test: dict = field(default_factory=dict)
    bad_evals: int = 0
    train_seconds: float = 0.0
    eval_seconds: float = 0.0


class Trainer:
    """One training run, as RecBole's Trainer: `fit()` yields the events, delegating to
    `_train_epoch`, `_evaluate` and `_save_checkpoint`. Ends with `finished`, `stopped`
    (should_stop turned true; checked at every batch) or raises TrainingFailed."""

    def __init__(self, cfg: dict, ds: Dataset, run_dir: str | Path | None = None,
                 should_stop: Callable[[], bool] = lambda: False, resume: bool = False):
        self.t_setup = time.perf_counter()
        torch.set_num_threads(cfg["threads"] or os.cpu_count() or 1)
        cpu_blas.set_threads(torch.get_num_threads())  # numpy's BLAS, where the denoiser multiplies with it
        self.cfg, self.ds, self.should_stop, self.resume = cfg, ds, should_stop, resume
        self.device = select_device(requested_device(cfg), gpu_index(cfg))
        seed_everything(cfg["seed"], cfg["reproducibility"])
        self.method = methods.build(cfg, ds, self.device)
        self.run_dir, self.ckpt = run_dir, Checkpoints(run_dir)
        self.matrix = model_input(cfg, ds)  # every model reads it: time weights (time-aware) apply to all
        self.train_in = DeviceRows(self.matrix, self.device)
        self.key = metric_key(cfg["valid_metric"])
        self.rule = StoppingRule.of(cfg)  # compares signed scores: bigger is better
        self.fingerprint = ds.fingerprint()
        self.p = Progress()
        if resume:
            from engine.records.checkpoints import restore_resume
            state = asdict(self.p)
            restore_resume(self.method, self.ckpt.load_last(), self.fingerprint, state, RunDir(run_dir).resume_file)
            self.p = Progress(**state)

    def fit(self) -> Iterator[dict]:
        yield self._started()
        if not self.method.iterative:
            yield from self._fit_closed_form()
            return
        while self.p.epoch < self.cfg["epochs"]:
            epoch_event = self._train_epoch(self.p.epoch + 1)
            if epoch_event is None:
                yield self._summary("stopped", reason="stopped by user")
                return
            yield epoch_event
            if self.p.epoch % self.cfg["eval_step"] == 0 or self.p.epoch == self.cfg["epochs"]:
                yield from self._evaluate()
                self._save_checkpoint("last")
                if self.rule.exhausted(self.p.bad_evals):
                    yield self._summary("finished", reason=f"early stop: no better {self.cfg['valid_metric']} "
                                                           f"in {self.rule.evaluations()} evaluations")
                    return
        yield self._summary("finished", reason="reached epochs")

    def _started(self) -> dict:
        m, ds = self.method, self.ds
        return {"type": "started", "pid": os.getpid(), "device": str(self.device), "model": self.cfg["model"],
                "dataset": ds.stats, "parameters": parameter_count(m.module),
                "buffer_values": sum(b.numel() for b in m.module.buffers()),
                "model_info": getattr(m, "info", dict)(),  # e.g. L-DiffRec's cluster sizes
                "fingerprint": self.fingerprint, "resumed_from_epoch": self.p.epoch if self.resume else None,
                "setup_seconds": round(time.perf_counter() - self.t_setup, 3)}

    def _fit_closed_form(self) -> Iterator[dict]:
        t0 = time.perf_counter()
        self.method.fit(self.matrix)
        self.p.train_seconds += time.perf_counter() - t0
        self.p.epoch = 1
        yield from self._evaluate()
        yield self._summary("finished", reason="closed-form model fitted")

    def _train_epoch(self, epoch: int) -> dict | None:
        """One epoch over the users; its event, or None when should_stop turned true."""
        cfg, n = self.cfg, self.ds.n_users
        t0 = time.perf_counter()
        order = np.random.default_rng([cfg["seed"], epoch]).permutation(n) if cfg["shuffle"] else np.arange(n)
        loss = train_epoch(self.method, self.train_in, order, cfg["train_batch_size"], self.device, self.should_stop)
        if loss is None:
            return None
        if not math.isfinite(loss):
            raise TrainingFailed(f"loss became {loss} in epoch {epoch}: lower learning_rate or noise_scale")
        seconds = time.perf_counter() - t0
        self.p.train_seconds += seconds
        self.p.epoch = epoch
        return {"type": "epoch", "epoch": epoch, "loss": loss, "seconds": round(seconds, 3), "epochs": cfg["epochs"]}

    def _evaluate(self) -> Iterator[dict]:
        """Valid and test metrics; the best model so far saved when valid_metric improved,
        with its per-user test metrics (for paired tests)."""
        t0 = time.perf_counter()
        users: dict = {}
        valid, test = evaluate(self.method, self.cfg, self.ds, self.train_in, self.device, test_per_user=users)
        self.p.eval_seconds += time.perf_counter() - t0
        yield {"type": "eval", "epoch": self.p.epoch, "valid": valid, "test": test,
               "seconds": round(time.perf_counter() - t0, 3)}
        score = self.rule.score(valid.get(self.key))
        if not self.rule.improves(score, self.p.best_value):
            self.p.bad_evals += 1
            return
        self.p.best_value, self.p.best_epoch, self.p.bad_evals = score, self.p.epoch, 0
        self.p.best_valid, self.p.best_test = valid, test
        self._save_checkpoint("best")
        if self.run_dir is not None:
            per_user.write(self.run_dir, users, self.fingerprint)
        yield {"type": "checkpoint", "epoch": self.p.epoch, self.key: valid[self.key]}

    def _save_checkpoint(self, kind: str) -> None:
        """kind best: the model and what it scored; last: all that --resume needs."""
        m = self.method
        obj = {"state_dict": m.module.state_dict(), "config": self.cfg, "fingerprint": self.fingerprint,
               "n_users": self.ds.n_users, "n_items": self.ds.n_items, "epoch": self.p.epoch,
               "valid": self.p.best_valid, "test": self.p.best_test, "kind": kind}
        if kind == "best":
            self.ckpt.best(obj)
            return
        self.ckpt.last({**obj, "optimizers": [o.state_dict() for o in m.optimizers()], "extra": m.extra_state(),
                        "progress": asdict(self.p), "torch_rng": torch.get_rng_state()})

    def _summary(self, status: str, **extra) -> dict:
        p = self.p
        return {"type": status, "status": status, "best_epoch": p.best_epoch, "epochs_run": p.epoch,
                "valid": p.best_valid, "test": p.best_test, "split": split_counts(self.ds.stats),
                "train_seconds": round(p.train_seconds, 3), "eval_seconds": round(p.eval_seconds, 3),
                "peak_rss_gb": peak_rss_gb(), **extra}


def fit(cfg: dict, ds: Dataset, run_dir: str | Path | None = None,
        should_stop: Callable[[], bool] = lambda: False, resume: bool = False) -> Iterator[dict]:
    """Train `cfg` on `ds`, yielding events (Trainer.fit); nothing happens before the first."""
    yield from Trainer(cfg, ds, run_dir, should_stop, resume).fit()


def fit_into(run: RunDir, cfg: dict, ds: Dataset, should_stop: Callable[[], bool] = lambda: False,
             resume: bool = False, started_extra: dict | None = None) -> None:
    """Train into a run directory: every event appended to its events.jsonl, the summary
    written when training ends; `started_extra` joins the `started` event (how the host
    got the data). The worker process does this; tests and benchmarks call it in-process.
    Raises TrainingFailed like `fit`."""
    for ev in fit(cfg, ds, run.path, should_stop, resume=resume):
        if ev["type"] == "started" and started_extra:
            ev = {**ev, **started_extra}
        ev = run.event(ev.pop("type"), **ev)
        if ev["type"] in ("finished", "stopped"):
            run.write_summary({k: v for k, v in ev.items() if k != "type"})
