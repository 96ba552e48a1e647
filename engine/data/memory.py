"""Will a loader's arrays fit in memory? The free memory there is (DIFFREC_MEMORY_LIMIT, the
GPU's, or the host's with its cgroup limit) and the checks made before the id-indexed arrays
or synthetic interactions are built. No torch at import."""
from __future__ import annotations

import os
import re
from pathlib import Path

from engine.errors import ConfigError, DataError


MEMORY_ENV = "DIFFREC_MEMORY_LIMIT"


ID_BYTES = (64, 24)  # per user id and per item id: index pointers, counts, masks of the loaders


ROW_BYTES = 64  # per generated interaction (users, items, times, keys, splits)


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def check_ids(n_users: int, n_items: int, where) -> None:
    """DataError if arrays indexed by user and item id (ids up to n-1) would not fit."""
    need = n_users * ID_BYTES[0] + n_items * ID_BYTES[1]
    free, what = available(None)
    if free is not None and need > free:
        raise DataError(f"data: {where}: ids up to {n_users - 1} (users) and {n_items - 1} (items) need "
                        f"~{size_text(need)} of id-indexed arrays, more than the ~{size_text(free)} {what} has: "
                        "number the ids 0..n-1")


def check_synthetic(cfg: dict) -> None:
    """ConfigError if the synthetic generator's interactions would not fit."""
    rows = cfg["synthetic_users"] * cfg["synthetic_interactions"]
    need = rows * ROW_BYTES + cfg["synthetic_users"] * ID_BYTES[0] + cfg["synthetic_items"] * ID_BYTES[1]
    free, what = available(None)
    if free is not None and need > free:
        raise ConfigError(f"config: synthetic data of {cfg['synthetic_users']} users x {cfg['synthetic_interactions']} "
                          f"interactions needs ~{size_text(need)}, more than the ~{size_text(free)} {what} has: "
                          "lower synthetic_users or synthetic_interactions")


def available(device=None) -> tuple[int | None, str]:
    """(free bytes or None when unknown, a name for where): DIFFREC_MEMORY_LIMIT if set, the
    GPU's free memory for a CUDA device, else the host's available memory (cgroup limits too)."""
    limit = os.environ.get(MEMORY_ENV, "").strip()
    if limit:
        return parse_size(limit), f"{MEMORY_ENV}={limit}"
    if device is not None and getattr(device, "type", "") == "cuda":
        import torch
        return int(torch.cuda.mem_get_info(device)[0]), str(device)
    return host_available(), "this machine"


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([bkmgt]?)i?b?\s*", text.lower())
    if not m:
        raise ConfigError(f"{MEMORY_ENV}={text!r} is not a size; write it like 8G, 512M or 2000000000")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def host_available() -> int | None:
    """MemAvailable, lowered to what the cgroup (a container, a batch job) still allows."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit, usage in (("memory.max", "memory.current"), ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        try:
            cap = Path("/sys/fs/cgroup", limit).read_text().strip()
            if cap != "max" and int(cap) < 1 << 60:
                found.append(int(cap) - int(Path("/sys/fs/cgroup", usage).read_text()))
        except (OSError, ValueError):
            continue
    return max(0, min(found)) if found else None


def size_text(n: int) -> str:
    for unit, div in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= div:
            return f"{n / div:.3g} {unit}"
    return f"{n / 1e3:.3g} KB"
