"""checkpoint.pt and resume.pt are input like any file a user hands us: `torch.load(...,
weights_only=True)` refuses code, and what it returns is checked here, field by field, before
it is used. A file that does not hold what this version writes is an InputError that names
the file and the field (exit 2), never a TypeError from deep inside torch.
"""
from __future__ import annotations

from pathlib import Path

import torch

from engine.config import schema as config_mod
from engine.errors import ConfigError, InputError, one_line

PROGRESS = {"epoch": int, "best_epoch": int, "best_value": float, "best_valid": dict, "best_test": dict,
            "bad_evals": int, "train_seconds": float, "eval_seconds": float}
_FIX = {"checkpoint.pt": "re-train the run", "resume.pt": "start a new run (or delete resume.pt)"}


def _bad(path: Path, why: str) -> InputError:
    return InputError(one_line(f"checkpoint: {path}: {why}; {_FIX.get(path.name, 're-train the run')}"))


def _need(obj, path: Path, keys: dict) -> None:
    """`obj` is a mapping with each key of the type given."""
    if not isinstance(obj, dict):
        raise _bad(path, f"holds a {type(obj).__name__}, not the mapping this program writes")
    for key, kind in keys.items():
        if key not in obj:
            raise _bad(path, f"lacks `{key}`")
        if not isinstance(obj[key], kind) or isinstance(obj[key], bool) and kind is not bool:
            raise _bad(path, f"`{key}` is a {type(obj[key]).__name__}, not a {kind.__name__}")


def _tensors(obj, path: Path, key: str) -> None:
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise _bad(path, f"`{key}` must map names to tensors")


def checked_config(raw: dict, path: Path) -> dict:
    """The config stored in a checkpoint, through the schema like a config file."""
    try:
        return config_mod.resolve(raw)
    except ConfigError as exc:
        raise _bad(path, f"its config is not valid ({exc})") from None


def check_best(ckpt, path: Path) -> dict:
    """A checkpoint.pt's contents, checked; its config replaced by the resolved one."""
    _need(ckpt, path, {"state_dict": dict, "config": dict, "fingerprint": str})
    _tensors(ckpt["state_dict"], path, "state_dict")
    for key, kind in (("epoch", int), ("n_users", int), ("n_items", int), ("valid", dict), ("test", dict)):
        if ckpt.get(key) is not None and not isinstance(ckpt[key], kind):
            raise _bad(path, f"`{key}` is a {type(ckpt[key]).__name__}, not a {kind.__name__}")
    return {**ckpt, "config": checked_config(ckpt["config"], path)}


def restore_resume(method, last, fingerprint: str, progress: dict, path: Path) -> None:
    """Put resume.pt's training state into `method` and `progress`, or raise InputError."""
    if last is None:
        raise ConfigError("resume: this run has no resume.pt (it never finished an epoch); start a new run")
    _need(last, path, {"state_dict": dict, "optimizers": list, "extra": dict, "progress": dict,
                       "torch_rng": torch.Tensor, "fingerprint": str})
    if last["fingerprint"] != fingerprint:
        raise ConfigError("resume: the dataset changed since this run started; start a new run")
    _tensors(last["state_dict"], path, "state_dict")
    optimizers = method.optimizers()
    if len(last["optimizers"]) != len(optimizers) or not all(isinstance(s, dict) for s in last["optimizers"]):
        raise _bad(path, f"`optimizers` holds {len(last['optimizers'])} states, the model has {len(optimizers)}")
    state = {k: last["progress"].get(k) for k in PROGRESS}
    for key, kind in PROGRESS.items():
        value = state[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            state[key] = float(value)
        elif not isinstance(value, kind) or isinstance(value, bool):
            raise _bad(path, f"`progress.{key}` is missing or not a {kind.__name__}")
    try:
        method.module.load_state_dict(last["state_dict"])
        for opt, s in zip(optimizers, last["optimizers"]):
            opt.load_state_dict(s)
        before = _shapes(method.extra_state())
        method.load_extra_state(last["extra"])
        if _shapes(method.extra_state()) != before:
            raise ValueError("the extra training state has other shapes than this model's")
        torch.set_rng_state(last["torch_rng"])
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise _bad(path, f"does not fit this run's model ({exc.__class__.__name__}: {one_line(exc)})") from None
    progress.update(state)


def _shapes(obj, at: str = "") -> dict:
    """path -> (shape, dtype) of every tensor in a nested state (other values may change)."""
    if isinstance(obj, torch.Tensor):
        return {at: (tuple(obj.shape), obj.dtype)}
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    out: dict = {}
    for k, v in items:
        out.update(_shapes(v, f"{at}/{k}"))
    return out
