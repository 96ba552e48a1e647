"""Loading a dataset as the config says: DiffRec split folders, RecBole atomic files (with
RecBole's filters and token maps), CSV, or synthetic data."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from engine.data import filters, layout
from engine.data.dataset import MAX_ID, MAX_TOKEN, SPLIT_FILES, Dataset, build
from engine.data.memory import check_ids
from engine.data.splits import split_name, split_per_user
from engine.errors import DataError
from engine.untrusted import csv_rows, load_npy, open_text, shown


# ---------------------------------------------------------------- assembling a Dataset


# ---------------------------------------------------------------- loaders

def load(cfg: dict) -> Dataset:
    src = layout.locate(cfg)
    if src.format == "synthetic":
        from engine.data.memory import check_synthetic
        from engine.data.synthetic import generate
        check_synthetic(cfg)
        return generate(cfg)
    if src.format == "diffrec_npy":
        return load_npy_folder(src.path, cfg["dataset"], cfg.get("drop_unseen_targets", False))
    if src.format == "atomic":
        return load_atomic(src, cfg)
    return load_csv(src.path, cfg)


def _read_pairs(file: Path) -> np.ndarray:
    if not file.is_file():
        raise DataError(f"data: {file}: file not found; a DiffRec split folder needs {', '.join(SPLIT_FILES)}")
    a = load_npy(file)
    if a.ndim != 2 or a.shape[1] != 2:
        raise DataError(f"data: {file}: expected shape (n, 2) rows [user, item], got {a.shape}")
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise DataError(f"data: {file}: expected integer ids, got dtype {a.dtype}")
    if np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            row = int(np.argmax(~np.isfinite(a).all(1) | (a != np.round(a)).any(1)))
            raise DataError(f"data: {file}: non-integer id at row {row}: ids must be whole numbers")
    if len(a) == 0:
        raise DataError(f"data: {file}: the {file.stem.replace('_list', '')} split is empty")
    if a.min() < 0:
        row = int(np.argmax((a < 0).any(1)))
        raise DataError(f"data: {file}: negative id at row {row}: ids must be >= 0")
    if a.max() > MAX_ID:
        row, col = np.unravel_index(int(np.argmax(a)), a.shape)
        raise DataError(f"data: {file}: {('user', 'item')[col]} id {int(a[row, col])} at row {row} is too large "
                        f"(at most {MAX_ID}); ids index arrays: number them 0..n-1")
    return a.astype(np.int64)


def load_npy_folder(folder: Path, name: str, drop_unseen: bool = False) -> Dataset:
    if not folder.is_dir():
        raise DataError(f"data: {folder}: not a folder; data_format diffrec_npy needs a split folder")
    tr, va, te = (_read_pairs(folder / f) for f in SPLIT_FILES)
    n_users = int(max(tr[:, 0].max(), va[:, 0].max(), te[:, 0].max())) + 1
    n_items = int(max(tr[:, 1].max(), va[:, 1].max(), te[:, 1].max())) + 1
    check_ids(n_users, n_items, folder)
    emb = None
    emb_file = folder / "item_emb.npy"
    if emb_file.exists():
        emb = load_npy(emb_file)
        if emb.ndim != 2 or emb.shape[0] != n_items:
            raise DataError(f"data: {emb_file}: expected shape ({n_items}, d), got {emb.shape}")
        if not np.issubdtype(emb.dtype, np.number) or np.issubdtype(emb.dtype, np.complexfloating):
            raise DataError(f"data: {emb_file}: expected real numbers, got dtype {emb.dtype}")
    return build(name, n_users, n_items, (tr[:, 0], tr[:, 1]), (va[:, 0], va[:, 1]),
                 (te[:, 0], te[:, 1]), item_emb=emb, extra_stats={"split": "files"}, drop_unseen=drop_unseen)


def _interactions_to_dataset(file, cfg, users, items, times, fields, item_names_by_token=None):
    """Shared tail of the atomic and CSV loaders: RecBole's filters, dense ids, split."""
    keep = filters.select(file, cfg, users, items, times, fields)
    users, items = users[keep], items[keep]
    times = times[keep] if times is not None else None
    if len(users) == 0:
        raise DataError(f"data: {file}: no interactions left to use (check rating_threshold, val_interval "
                        "and the inter_num intervals)")
    user_tokens, uid = np.unique(users, return_inverse=True)
    item_tokens, iid = np.unique(items, return_inverse=True)
    splits, short = split_per_user(uid, iid, times, cfg["split"], cfg["order"], cfg["seed"],
                                   cfg.get("leave_one_out", "off"), cfg.get("split_rule", "nearest"))
    return _tokenized(file, cfg, user_tokens, item_tokens, splits, item_names_by_token, short)


def _tokenized(file, cfg, user_tokens, item_tokens, splits, names_by_token, short=0) -> Dataset:
    """A Dataset from dense-id splits, keeping the dataset's own ids (tokens) and titles."""
    for s, name in enumerate(("train", "valid", "test")):
        if _expects(cfg, s) and len(splits[s][0]) == 0:
            raise DataError(f"data: {file}: the {name} split is empty (too few interactions per user); "
                            "use a larger dataset or change split")
    names = None
    if names_by_token:
        names = [names_by_token.get(str(t), str(t)) for t in item_tokens]
    ds = build(cfg["dataset"], len(user_tokens), len(item_tokens), *splits, item_names=names,
               extra_stats={"users_all_train": short, "split": split_name(cfg)},
               drop_unseen=cfg.get("drop_unseen_targets", False))
    ds.user_tokens, ds.item_tokens = [str(t) for t in user_tokens], [str(t) for t in item_tokens]
    ds.stats["user_tokens_sample"] = ds.user_tokens[:3]
    return ds


def _expects(cfg: dict, part: int) -> bool:
    """Does the split put items into this part (0 train, 1 valid, 2 test)?"""
    mode = cfg.get("leave_one_out", "off")
    if cfg.get("benchmark_filename") or mode in (None, "off"):
        return bool(cfg.get("benchmark_filename")) or cfg["split"][part] > 0
    return part == 0 or (part == 1 and mode != "test_only") or (part == 2 and mode != "valid_only")


def _column(header: list[str], names: tuple[str, ...], allowed: set[str] | None = None) -> int | None:
    base = [h.split(":")[0].strip().lower() for h in header]
    for n in names:
        n = n.lower()
        if n in base and (allowed is None or n in allowed):
            return base.index(n)
    return None


_GUESS = {"user": ("user_id", "user", "userid", "uid"), "item": ("item_id", "item", "itemid", "movieid", "iid"),
          "rating": ("rating", "score"), "time": ("timestamp", "time", "ts")}
_NAMED = {"user": "USER_ID_FIELD", "item": "ITEM_ID_FIELD", "rating": "RATING_FIELD", "time": "TIME_FIELD"}


def _allowed(header: list[str], cfg: dict) -> set[str]:
    """The columns RecBole's load_col / unload_col (their `inter` entries) let us read;
    as in RecBole, a load_col without an `inter` entry loads nothing from it."""
    base = {h.split(":")[0].strip().lower() for h in header}
    load_col = cfg.get("load_col")
    allowed = base
    if load_col is not None:
        inter = load_col.get("inter")
        allowed = base if inter == "*" else {str(c).lower() for c in inter or []} & base
    unload = (cfg.get("unload_col") or {}).get("inter") or []
    return allowed - {str(c).lower() for c in unload}


def _columns(file, header, cfg=None):
    """Column index of user, item, rating and time (None when absent), and of the other
    columns a val_interval names. RecBole's field names and load_col/unload_col win over
    the usual guesses."""
    cfg = cfg or {}
    allowed = _allowed(header, cfg)
    cols = {}
    for key, guesses in _GUESS.items():
        named = cfg.get(_NAMED[key])
        wanted = (named,) if named else guesses
        cols[key] = _column(header, wanted, allowed)
        if cols[key] is None and key in ("user", "item"):
            present = _column(header, wanted)
            what = f"{_NAMED[key]} `{named}`" if named else f"the {key} column"
            if present is not None:
                raise DataError(f"data: {file}: {what} is not loaded: add `{header[present].split(':')[0]}` "
                                "to load_col's inter list (or drop it from unload_col)")
            if named:
                raise DataError(f"data: {file}: {what} is not in the header; found {shown(header)}")
            raise DataError(f"data: {file}: header has no {key} column (expected e.g. {key}_id, or set "
                            f"{_NAMED[key]}); found {shown(header)}")
    for name in cfg.get("val_interval") or {}:
        idx = _column(header, (name,), allowed)
        if idx is not None and idx not in cols.values():
            cols[f"field:{name}"] = idx
    return cols


def _parse_rows(file, rows, cols):
    users, items, ratings, times = [], [], [], []
    extra = {k: [] for k in cols if k.startswith("field:")}
    for line_no, row in rows:
        try:
            users.append(row[cols["user"]])
            items.append(row[cols["item"]])
            if len(users[-1]) > MAX_TOKEN or len(items[-1]) > MAX_TOKEN:
                raise DataError(f"data: {file}: line {line_no} has a user or item id of "
                                f"{max(len(users[-1]), len(items[-1]))} characters (at most {MAX_TOKEN}); "
                                "is the delimiter right, or a quote left open?")
            if cols["rating"] is not None:
                ratings.append(float(row[cols["rating"]]))
            if cols["time"] is not None:
                times.append(float(row[cols["time"]]))
            for k, values in extra.items():
                values.append(row[cols[k]])
        except (IndexError, ValueError):
            raise DataError(f"data: {file}: line {line_no} is malformed (missing field or non-numeric "
                            "rating/timestamp)") from None
    if not users:
        raise DataError(f"data: {file}: no interactions (the file has only a header)")
    return (np.asarray(users), np.asarray(items),
            np.asarray(ratings) if cols["rating"] is not None else None,
            np.asarray(times) if cols["time"] is not None else None,
            {k[len("field:"):]: _as_numbers(np.asarray(v)) for k, v in extra.items()})


def _as_numbers(a: np.ndarray) -> np.ndarray:
    try:
        return a.astype(np.float64)
    except ValueError:
        return a


def _read_table(file: Path, cfg: dict, delimiter: str | None):
    """(users, items, times, fields) of one interaction file; delimiter None = sniffed (CSV)."""
    with open_text(file) as fh:
        dialect = csv.excel
        if delimiter is None:
            sample = fh.read(4096)
            fh.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
            except csv.Error:
                pass
            reader = csv.reader(fh, dialect)
        else:
            reader = csv.reader(fh, delimiter=delimiter)
        rows = csv_rows(reader, file)
        header = next(rows, (0, None))[1]
        if not header:
            example = "user_id:token\titem_id:token" if delimiter else "user,item,rating,timestamp"
            raise DataError(f"data: {file}: empty file; expected a header like {example}")
        cols = _columns(file, header, cfg)
        users, items, ratings, times, fields = _parse_rows(file, rows, cols)
    for key, values in (("user", users), ("item", items), ("rating", ratings), ("time", times)):
        if values is not None:  # value filters (val_interval) may name any of them
            fields[header[cols[key]].split(":")[0].strip()] = fields[key] = values
    return users, items, times, fields


def load_atomic(src: layout.Source, cfg: dict) -> Dataset:
    sep = cfg.get("field_separator") or "\t"
    names = _item_names(src.item_file, sep, cfg.get("ITEM_ID_FIELD") or "item_id") if src.item_file else None
    if src.parts:
        return _benchmark(src, cfg, [_read_table(f, cfg, sep) for f in src.parts], names)
    return _interactions_to_dataset(src.path, cfg, *_read_table(src.path, cfg, sep), names)


def _benchmark(src: layout.Source, cfg: dict, tables: list, names: dict | None) -> Dataset:
    """RecBole's benchmark_filename: the files are the train, valid and test splits
    (RecBole filters nothing then; a rating_threshold still applies)."""
    users = np.concatenate([t[0] for t in tables])
    items = np.concatenate([t[1] for t in tables])
    part = np.concatenate([np.full(len(t[0]), i) for i, t in enumerate(tables)])
    times = np.concatenate([t[2] for t in tables]) if all(t[2] is not None for t in tables) else None
    if cfg["rating_threshold"] is not None:
        if not all("rating" in t[3] for t in tables):
            raise DataError(f"data: {src.path}: rating_threshold is set but a file has no rating column")
        keep = np.concatenate([t[3]["rating"] for t in tables]) >= cfg["rating_threshold"]
        users, items, part = users[keep], items[keep], part[keep]
        times = times[keep] if times is not None else None
    user_tokens, uid = np.unique(users, return_inverse=True)
    item_tokens, iid = np.unique(items, return_inverse=True)
    key = times if times is not None else np.arange(len(uid))
    order = np.lexsort((np.arange(len(uid)), key, uid))  # each user's train rows oldest first
    uid, iid, part = uid[order], iid[order], part[order]
    splits = [(uid[part == s], iid[part == s]) for s in range(3)]
    return _tokenized(src.path, cfg, user_tokens, item_tokens, splits, names)


def _item_names(item_file: Path, sep: str = "\t", id_field: str = "item_id") -> dict | None:
    """Titles from a RecBole .item file (movie_title, title or name column), by item token."""
    with open(item_file, newline="", encoding="utf-8", errors="replace") as fh:
        rows = csv_rows(csv.reader(fh, delimiter=sep), item_file)
        header = next(rows, (0, []))[1]
        idc = _column(header, (id_field,))
        namec = next((i for i, h in enumerate(header) if h.split(":")[0] in ("movie_title", "title", "name")), None)
        if idc is None or namec is None:
            return None
        return {r[idc]: r[namec] for _, r in rows if len(r) > max(idc, namec)}


def load_csv(path: Path, cfg: dict) -> Dataset:
    if not path.is_file():
        raise DataError(f"data: {path}: not a file; data_format csv needs a .csv file")
    return _interactions_to_dataset(path, cfg, *_read_table(path, cfg, cfg.get("field_separator")))
