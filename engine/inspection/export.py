"""`--export-recs`: every user's top-K as a CSV (user,rank,item[,title],score), in the
dataset's own ids, written atomically."""
from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from engine.errors import InputError, os_errors
from engine.records import tokens


def check_export_target(out: str | Path) -> Path:
    """The CSV path to write, or an InputError before any scoring: an existing folder, a
    missing or unwritable parent folder, a file we may not replace."""
    out = Path(out).expanduser()
    fix = "choose another OUT path"
    with os_errors("export", out, fix):  # a name too long, a path through a file, ...
        if out.is_dir():
            raise InputError(f"export: {out} is a folder; give a file name inside it, e.g. {out / 'recs.csv'}")
        if not out.parent.is_dir():
            raise InputError(f"export: folder {out.parent} does not exist; create it or {fix}")
        if not os.access(out.parent, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK)):
            raise InputError(f"export: {out.parent if not out.exists() else out}: not writable; {fix}")
        probe = out.with_name(f".{out.name}.probe")  # root ignores modes: try it for real
        probe.touch()
        probe.unlink()
    return out


def _write_token_rows(fh, users, items, scores, ids: tokens.TokenMap, titles: list[str] | None) -> int:
    """CSV rows in the dataset's own ids (and titles, quoted as CSV needs), skipping
    excluded (-inf) slots."""
    import csv
    w = csv.writer(fh, lineterminator="\n")
    n = 0
    for u, row_items, row_scores in zip(users.tolist(), items.tolist(), scores.tolist()):
        for rank, (i, s) in enumerate(zip(row_items, row_scores), 1):
            if math.isfinite(s):
                title = [titles[i]] if titles is not None else []
                w.writerow([ids.users[u], rank, ids.items[i], *title, f"{s:.6g}"])
                n += 1
    return n


def _write_rows(fh, users: np.ndarray, items: np.ndarray, scores: np.ndarray) -> int:
    """CSV rows for a batch, skipping excluded (-inf) slots; one format call per batch."""
    b, k = items.shape
    ok = np.isfinite(scores)
    u = np.repeat(users, k).reshape(b, k)[ok].tolist()
    r = np.tile(np.arange(1, k + 1), b).reshape(b, k)[ok].tolist()
    cols = (u, r, items[ok].tolist(), scores[ok].tolist())
    flat = [v for row in zip(*cols) for v in row]
    fh.write("%d,%d,%d,%.6g\n" * len(u) % tuple(flat))
    return len(u)


def write_recs(out: Path, batches: Iterable, ids: tokens.TokenMap | None, titles: list[str] | None,
               n_users: int, progress: Callable[[int, int], None] | None = None) -> int:
    """Write the (users, items, scores) batches to `out` through a temporary file; returns
    the number of rows. Token ids when `ids` is given (and a title column with `titles`)."""
    tmp = out.with_name(out.name + ".tmp")
    n = 0
    try:
        with os_errors("export", out, "choose another OUT path"):
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                fh.write("user,rank,item,title,score\n" if titles is not None else "user,rank,item,score\n")
                for rows, items, scores in batches:
                    if ids is None:
                        n += _write_rows(fh, rows, items, scores)
                    else:
                        n += _write_token_rows(fh, rows, items, scores, ids, titles)
                    if progress:
                        progress(int(rows[-1]) + 1, n_users)
            tmp.replace(out)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return n

