"""Each run's per-user test metrics: RUN_DIR/per_user_test.npz (no torch).

One float32 array per metric (`recall@20`, ...), one value per user in dense user order,
from the evaluation of the best-validation checkpoint (the one whose averages are the
summary's `test`), plus the dataset fingerprint, so that two runs are compared user by
user only when they ranked the same users on the same split. A few hundred KB for
ml-1m. Written atomically by the trainer at each new best; read as untrusted input.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InputError

FILE = "per_user_test.npz"
_KEY = re.compile(r"^[a-z]+@[0-9]{1,4}$")
MAX_USERS = 2 ** 31 - 2


@dataclass(frozen=True)
class PerUser:
    path: Path
    fingerprint: str
    metrics: dict  # key -> np.ndarray (n_users,) float64

    @property
    def n_users(self) -> int:
        return len(next(iter(self.metrics.values()))) if self.metrics else 0


def path_of(run_dir: str | Path) -> Path:
    return Path(run_dir) / FILE


def write(run_dir: str | Path, metrics: dict, fingerprint: str) -> Path:
    """Save `metrics` (key -> per-user values) next to the run's checkpoint, atomically."""
    import numpy as np

    path = path_of(run_dir)
    tmp = path.with_name(path.name + ".tmp.npz")
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in metrics.items()}
    np.savez_compressed(tmp, fingerprint=np.array(fingerprint), **arrays)
    os.replace(tmp, path)
    return path


def read(run_dir: str | Path) -> PerUser:
    """The run's per-user test metrics. InputError naming the file when it is missing,
    damaged or not what the trainer writes."""
    import numpy as np

    path = path_of(run_dir)
    if not path.is_file():
        raise InputError(f"significance: {Path(run_dir)} has no {FILE} (it never finished an evaluation, "
                         "or was trained before per-user metrics were kept); train it again")
    try:
        with np.load(path, allow_pickle=False) as data:
            raw = {k: data[k] for k in data.files}
    except Exception as exc:  # truncated, not a zip, pickled objects
        raise InputError(f"significance: {path} cannot be read ({exc.__class__.__name__}); train the run again") \
            from None
    return _validate(path, raw)


def _validate(path: Path, raw: dict) -> PerUser:
    import numpy as np

    fp = raw.pop("fingerprint", None)
    if fp is None or fp.shape != () or fp.dtype.kind != "U":
        raise InputError(f"significance: {path} has no dataset fingerprint; train the run again")
    metrics, n = {}, None
    for key, values in raw.items():
        if not _KEY.match(key) or values.ndim != 1 or values.dtype.kind != "f" or len(values) > MAX_USERS:
            raise InputError(f"significance: {path}: `{key[:40]}` is not a per-user metric vector")
        if n is not None and len(values) != n:
            raise InputError(f"significance: {path}: `{key}` has {len(values)} users, the others {n}")
        n = len(values)
        values = values.astype(np.float64)
        if not np.all(np.isfinite(values)) or values.min(initial=0) < 0:
            raise InputError(f"significance: {path}: `{key}` holds values that are not metrics (NaN, inf, < 0)")
        metrics[key] = values
    if not metrics:
        raise InputError(f"significance: {path} holds no metrics; train the run again")
    return PerUser(path, str(fp), metrics)
