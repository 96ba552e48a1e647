"""What an Inspector loads from a run directory: the best checkpoint (validated, weights only),
the dataset it was trained on (checked against the recorded fingerprint), and the model."""
from __future__ import annotations

from pathlib import Path

import torch

from engine.data import dataset
from engine.data import loaders as data_mod
from engine.errors import InputError
from engine.models import registry as methods
from engine.models.method import Method
from engine.records.checkpoints import check_best
from engine.records.runs import RunDir
from engine.training import trainer


def load_checkpoint(run: RunDir) -> dict:
    if not run.path.is_dir():
        raise InputError(f"inspect: {run.path}: no such run directory; pass a folder under your runs directory")
    if not run.checkpoint_file.is_file():
        why = "it is not a run directory (no config.yaml)" if not run.config_file.is_file() else \
            "the run never reached an evaluation"
        raise InputError(f"inspect: {run.path} has no checkpoint.pt ({why}); pick a run that finished an evaluation")
    return check_best(trainer.load_checkpoint(run.checkpoint_file), run.checkpoint_file)


def load_dataset(cfg: dict, ckpt: dict, path: Path) -> dataset.Dataset:
    try:
        ds = data_mod.load(cfg)
    except InputError as exc:
        raise InputError(f"inspect: cannot load the dataset of run {path.name}: {exc}") from None
    if ds.fingerprint() != ckpt["fingerprint"]:
        where = cfg.get("data_path") or f"synthetic data (seed {cfg.get('synthetic_seed')})"
        raise InputError(f"inspect: the dataset at {where} changed since run {path.name} was trained "
                         f"(fingerprint {ds.fingerprint()} != {ckpt['fingerprint']}); restore the data or re-train")
    return ds


def device(name: str) -> torch.device:
    try:
        return trainer.select_device(name)
    except InputError:  # trained on a GPU that is not here: inspecting on the CPU is fine
        return torch.device("cpu")


def load_method(cfg: dict, ds, device: torch.device, ckpt: dict, path: Path) -> Method:
    method = methods.build(cfg, ds, device)
    try:
        method.module.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise InputError(f"inspect: checkpoint of run {path.name} does not match its config's model ({first}); "
                         "re-train the run") from None
    if not method.iterative and not ckpt["state_dict"]:
        method.fit(dataset.model_input(cfg, ds))  # a closed-form method that keeps no weights: refit, as fit() did
    method.module.eval()
    return method
