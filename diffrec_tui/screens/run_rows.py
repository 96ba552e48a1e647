"""The Runs table's rows: one per indexed run (engine.records.run_index), with the cells it shows
and the values its columns sort by. Made in the listing worker, never on the UI thread."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from functools import lru_cache

from rich.text import Text

from engine.config.fields import DIFFUSION_MODELS
from engine.records.notes import read_notes
from engine.records.run_index import IndexedRun

from diffrec_tui.live import valid_key


def _num(v, fmt: str = ".4f") -> str:
    return format(v, fmt) if isinstance(v, (int, float)) else "-"


def _short(v) -> str:
    if isinstance(v, list):
        return "[" + ",".join(str(x) for x in v) + "]"
    return "-" if v is None else str(v)


@dataclass
class Row:
    """One run as the table shows it; `sort` holds the values the columns sort by, `status`
    the run's status when the row was made."""
    info: IndexedRun
    cells: tuple
    sort: dict
    note: str = ""  # the user's note on the run (engine.records.notes); its name is in the run cell

    @property
    def id(self) -> str:
        """Unique in the table: a sweep's trial is named with its sweep directory."""
        return f"{self.info.sweep}/{self.info.id}" if self.info.sweep else self.info.id

    @property
    def status(self) -> str:
        return self.sort["status"]

    def texts(self) -> list[Text]:
        """The cells as plain Text: a dataset named like markup shows as it is named (and
        the table measures Text faster than markup strings)."""
        return [Text(c) for c in self.cells]


# (title, sort key) per column; the first column is the selection mark.
COLUMNS = [("", None), ("run", "run"), ("status", "status"), ("model", "model"), ("dataset", "dataset"),
           ("started", "started"), ("ep", "epochs"), ("best valid", "best"), ("test R@20", "recall"),
           ("test N@20", "ndcg"), ("steps", "steps"), ("noise", "noise"), ("lr", "lr"), ("dims", "dims")]
SORT_KEYS = [key for _, key in COLUMNS if key]


def make_row(info: IndexedRun) -> Row:
    cfg = info.keys
    valid, test = info.best
    vkey = _valid_key(None if cfg.get("valid_metric") is None else str(cfg.get("valid_metric")))
    status = info.status
    started = datetime.fromtimestamp(info.started_at).strftime("%m-%d %H:%M") if info.started_at else "-"
    best = valid.get(vkey)
    # a sweep's trial carries its sweep's name; a model without diffusion (EASE) no epochs or diffusion keys
    notes = read_notes(info.path)
    run = notes.name or short_id(info.id)  # the user's name for it, else the stamp
    run = f"↳ {info.sweep.split('-', 3)[-1]} {run}" if info.sweep else run
    diff = cfg.get("model") in DIFFUSION_MODELS
    cells = (run, status, _short(cfg.get("model")), _short(cfg.get("dataset")), started,
             str(info.epochs) if info.epochs or diff else "-", f"{vkey} {_num(best)}" if best is not None else "-",
             _num(test.get("recall@20")), _num(test.get("ndcg@20")), _short(cfg.get("steps") if diff else None),
             _short(cfg.get("noise_scale") if diff else None),
             _short(cfg.get("learning_rate")), _short(cfg.get("dims_dnn")))
    sort = {"run": info.id, "status": status, "model": str(cfg.get("model")), "dataset": str(cfg.get("dataset")),
            "started": info.started_at or 0.0, "epochs": info.epochs, "best": best if best is not None else -1.0,
            "recall": test.get("recall@20", -1.0), "ndcg": test.get("ndcg@20", -1.0),
            "steps": _sortable(cfg.get("steps")), "noise": _sortable(cfg.get("noise_scale")),
            "lr": _sortable(cfg.get("learning_rate")), "dims": str(cfg.get("dims_dnn"))}
    return Row(info, cells, sort, notes.note)


@lru_cache(maxsize=64)
def _valid_key(valid_metric) -> str:
    return valid_key({} if valid_metric is None else {"valid_metric": valid_metric})


def _sortable(v) -> float:
    """A number column's sort value (a hand-edited config may hold text there)."""
    return v if isinstance(v, (int, float)) else 0.0


def row_for(info: IndexedRun, old: dict, new: dict) -> Row:
    """The run's row: the one in `old` while the index did not re-read the run, except for a
    run that may be running (its status depends on the process, not on files). Kept in `new`."""
    key = (info.sweep, info.id)
    hit = old.get(key)
    if hit is None or hit.info is not info or hit.status == "running":
        hit = make_row(info)
    new[key] = hit
    return hit


def rows_for(runs, cache: dict) -> list[Row]:
    """A row per run (see row_for); `cache` keeps the rows of these runs only."""
    new: dict = {}
    rows = [row_for(info, cache, new) for info in runs]
    cache.clear()
    cache.update(new)
    return rows


def matches(row: Row, query: str) -> bool:
    """Every word of the filter must appear in one of the row's cells (case-insensitive)."""
    words = query.lower().split()
    if not words:  # no filter: a sort of ten thousand rows pays no text joins on the UI thread
        return True
    text = " ".join((row.id, *row.cells, row.note)).lower()
    return all(word in text for word in words)


def short_id(run_id: str) -> str:
    """'20250301-100000-DiffRec-synthetic-2' -> '20250301-100000-2': the model and dataset
    have their own columns; the stamp (and a same-second counter) still tell runs apart."""
    parts = run_id.split("-")
    if len(parts) >= 4 and parts[0].isdigit() and parts[1].isdigit():
        return "-".join(parts[:2] + ([parts[-1]] if parts[-1].isdigit() and len(parts) > 4 else []))
    return run_id
