"""Datasets: loaders for DiffRec split folders, RecBole atomic files, CSV and synthetic data,
the per-user split, and sparse matrices of which only a batch is ever densified."""
from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .budget import check_ids
from .errors import DataError, regular_file
from .untrusted import csv_rows, load_npy, open_text, shown

SPLIT_FILES = ("train_list.npy", "valid_list.npy", "test_list.npy")
MIN_SPLIT_LEN = 3  # users with fewer interactions keep them all in train (nothing held out)
MAX_ID = 2 ** 31 - 2  # ids index int32 arrays (scipy, torch): max id + 1 must fit
MAX_TOKEN = 256  # characters of a user or item token in a text file
TEXT_SUFFIXES = {"csv": (".csv", ".tsv", ".txt", ".dat"), "atomic": (".inter",)}


@dataclass
class Dataset:
    name: str
    n_users: int
    n_items: int
    train_users: np.ndarray  # int64; grouped by user, each user's items in chronological order
    train_items: np.ndarray
    valid: sp.csr_matrix  # users x items, 1.0 where held out for validation
    test: sp.csr_matrix
    item_emb: np.ndarray | None = None
    item_names: list[str] | None = None
    stats: dict = field(default_factory=dict)

    def train_matrix(self, time_aware: bool = False, w_min: float = 0.1, w_max: float = 1.0) -> sp.csr_matrix:
        """Users x items training matrix: 1.0 per interaction, or T-DiffRec's weights rising
        linearly from w_min (a user's oldest interaction) to w_max (the newest)."""
        values = np.ones(len(self.train_users), dtype=np.float32)
        if time_aware:
            pos, count = positions(self.train_users, self.n_users)
            frac = np.divide(pos, np.maximum(count - 1, 1), dtype=np.float64)
            values = (w_min + (w_max - w_min) * frac).astype(np.float32)
        return _csr(self.train_users, self.train_items, self.n_users, self.n_items, values)

    def history(self, user: int) -> np.ndarray:
        """The user's training items, oldest first."""
        lo, hi = np.searchsorted(self.train_users, [user, user + 1])
        return self.train_items[lo:hi]

    def fingerprint(self) -> str:
        h = hashlib.sha1()
        for a in (self.train_users, self.train_items, self.valid.indptr, self.valid.indices,
                  self.test.indptr, self.test.indices):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(f"{self.n_users}x{self.n_items}".encode())
        return h.hexdigest()[:16]


def positions(users: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """For user-grouped rows: each row's position within its user, and its user's row count."""
    count = np.bincount(users, minlength=n_users)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    return np.arange(len(users)) - start[users], count[users]


def _csr(users, items, n_users, n_items, values=None) -> sp.csr_matrix:
    if values is None:
        values = np.ones(len(users), dtype=np.float32)
    m = sp.csr_matrix((values, (users, items)), shape=(n_users, n_items), dtype=np.float32)
    m.sort_indices()
    return m


# ---------------------------------------------------------------- assembling a Dataset

def build(name, n_users, n_items, train, valid, test, item_emb=None, item_names=None,
          duplicates=0, extra_stats=None) -> Dataset:
    """Make a Dataset from (users, items) pairs per split; train pairs in chronological order.

    Drops (and counts) duplicate pairs and held-out items never seen in training.
    """
    tu, ti, dup = _dedupe(*train, n_items)
    order = np.argsort(tu, kind="stable")  # group by user, keep each user's time order
    tu, ti = tu[order], ti[order]
    seen = np.zeros(n_items, dtype=bool)
    seen[ti] = True
    held = []
    unseen = 0
    train_key = np.unique(tu * n_items + ti)
    for users, items in (valid, test):
        users, items, d = _dedupe(users, items, n_items)
        dup += d
        key = users * n_items + items
        in_train = np.isin(key, train_key)
        dup += int(in_train.sum())
        ok = seen[items] & ~in_train
        unseen += int((~seen[items] & ~in_train).sum())
        held.append(_csr(users[ok], items[ok], n_users, n_items))
    stats = {
        "n_users": int(n_users), "n_items": int(n_items),
        "n_train": int(len(tu)), "n_valid": int(held[0].nnz), "n_test": int(held[1].nnz),
        "density": round((len(tu) + held[0].nnz + held[1].nnz) / max(1, n_users * n_items), 6),
        "duplicates_dropped": int(dup), "unseen_dropped": int(unseen),
        **(extra_stats or {}),
    }
    return Dataset(name, int(n_users), int(n_items), tu.astype(np.int64), ti.astype(np.int64),
                   held[0], held[1], item_emb, item_names, stats)


def _dedupe(users, items, n_items):
    """Keep the first occurrence of each (user, item) pair, in the original order."""
    key = users.astype(np.int64) * n_items + items
    _, first = np.unique(key, return_index=True)
    first.sort()
    return users[first].astype(np.int64), items[first].astype(np.int64), int(len(users) - len(first))


def split_per_user(users, items, times, ratios, order="TO", seed=0):
    """Per-user split into train/valid/test by the ratios. TO: chronological (by `times`, ties
    in file order); RO: random per user. Users with fewer than 3 interactions keep all in train;
    others hold out round(n x ratio) valid and test items, at least one each."""
    n = len(users)
    if order == "RO":
        key2 = np.random.default_rng(seed).random(n)
    else:
        key2 = times if times is not None else np.arange(n)
    idx = np.lexsort((np.arange(n), key2, users))
    users, items = users[idx], items[idx]
    n_users = int(users.max()) + 1 if n else 0
    pos, count = positions(users, n_users)
    r = np.asarray(ratios, dtype=np.float64) / float(np.sum(ratios))
    n_test = np.where(r[2] > 0, np.maximum(1, np.round(count * r[2])), 0).astype(np.int64)
    n_valid = np.where(r[1] > 0, np.maximum(1, np.round(count * r[1])), 0).astype(np.int64)
    short = count < MIN_SPLIT_LEN
    n_test[short] = 0
    n_valid[short] = 0
    n_train = count - n_valid - n_test
    part = np.where(pos < n_train, 0, np.where(pos < n_train + n_valid, 1, 2))
    return [(users[part == s], items[part == s]) for s in range(3)], int(np.unique(users[short]).size)


# ---------------------------------------------------------------- loaders

def load(cfg: dict) -> Dataset:
    fmt = cfg["data_format"]
    if fmt == "synthetic":
        from .budget import check_synthetic
        from .synthetic import generate
        check_synthetic(cfg)
        return generate(cfg)
    path = Path(cfg["data_path"]).expanduser().resolve()
    check_source(path, fmt)
    if fmt == "diffrec_npy":
        return load_npy_folder(path, cfg["dataset"])
    if fmt == "atomic":
        return load_atomic(path, cfg)
    return load_csv(path, cfg)


def check_source(path: Path, fmt: str) -> None:
    """Refuse, before reading a byte, a data_path that cannot be this format's data: a missing
    path, a device or pipe (/dev/zero would be read forever), a text file without the
    format's suffix (a config or checkpoint naming /etc/passwd reads nothing)."""
    if not path.exists():
        raise DataError(f"data: {path}: not found; set data_path to an existing {_what(fmt)}")
    if path.is_dir():
        return
    if not regular_file(path):
        raise DataError(f"data: {path}: not a regular file (a device or pipe?); set data_path to a {_what(fmt)}")
    suffixes = TEXT_SUFFIXES.get(fmt)
    if suffixes and path.suffix.lower() not in suffixes:
        raise DataError(f"data: {path}: data_format {fmt} reads {' or '.join(suffixes)} files; "
                        f"rename the file or set data_format to match it")


def _what(fmt):
    return {"diffrec_npy": "folder with train_list.npy, valid_list.npy, test_list.npy",
            "atomic": ".inter file (or a folder holding one)", "csv": ".csv file"}[fmt]


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


def load_npy_folder(folder: Path, name: str) -> Dataset:
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
                 (te[:, 0], te[:, 1]), item_emb=emb)


def _interactions_to_dataset(file, cfg, users, items, ratings, times, item_names_by_token=None):
    """Shared tail of the atomic and CSV loaders: threshold, dense ids, split."""
    if cfg["rating_threshold"] is not None:
        if ratings is None:
            raise DataError(f"data: {file}: rating_threshold is set but the file has no rating column; "
                            "remove rating_threshold")
        keep = ratings >= cfg["rating_threshold"]
        users, items = users[keep], items[keep]
        times = times[keep] if times is not None else None
    if len(users) == 0:
        raise DataError(f"data: {file}: no interactions left to use (check rating_threshold)")
    user_tokens, uid = np.unique(users, return_inverse=True)
    item_tokens, iid = np.unique(items, return_inverse=True)
    splits, short = split_per_user(uid, iid, times, cfg["split"], cfg["order"], cfg["seed"])
    for s, name in enumerate(("train", "valid", "test")):
        if cfg["split"][s] > 0 and len(splits[s][0]) == 0:
            raise DataError(f"data: {file}: the {name} split is empty (too few interactions per user); "
                            "use a larger dataset or change split")
    names = None
    if item_names_by_token:
        names = [item_names_by_token.get(str(t), str(t)) for t in item_tokens]
    ds = build(cfg["dataset"], len(user_tokens), len(item_tokens), *splits, item_names=names,
               extra_stats={"users_all_train": short})
    ds.stats["user_tokens_sample"] = [str(t) for t in user_tokens[:3]]
    return ds


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    base = [h.split(":")[0].strip().lower() for h in header]
    for n in names:
        if n in base:
            return base.index(n)
    return None


def _columns(file, header):
    cols = {k: _column(header, v) for k, v in {
        "user": ("user_id", "user", "userid", "uid"), "item": ("item_id", "item", "itemid", "movieid", "iid"),
        "rating": ("rating", "score"), "time": ("timestamp", "time", "ts")}.items()}
    for need in ("user", "item"):
        if cols[need] is None:
            raise DataError(f"data: {file}: header has no {need} column (expected e.g. {need}_id); "
                            f"found {shown(header)}")
    return cols


def _parse_rows(file, rows, cols):
    users, items, ratings, times = [], [], [], []
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
        except (IndexError, ValueError):
            raise DataError(f"data: {file}: line {line_no} is malformed (missing field or non-numeric "
                            "rating/timestamp)") from None
    if not users:
        raise DataError(f"data: {file}: no interactions (the file has only a header)")
    return (np.asarray(users), np.asarray(items),
            np.asarray(ratings) if cols["rating"] is not None else None,
            np.asarray(times) if cols["time"] is not None else None)


def load_atomic(path: Path, cfg: dict) -> Dataset:
    file = path
    if path.is_dir():
        found = sorted(path.glob("*.inter"))
        if not found:
            raise DataError(f"data: {path}: no .inter file in this folder")
        file = found[0]
    with open_text(file) as fh:
        reader = csv.reader(fh, delimiter="\t")
        rows = csv_rows(reader, file)
        header = next(rows, (0, None))[1]
        if not header:
            raise DataError(f"data: {file}: empty file; expected a header like user_id:token\titem_id:token")
        cols = _columns(file, header)
        users, items, ratings, times = _parse_rows(file, rows, cols)
    return _interactions_to_dataset(file, cfg, users, items, ratings, times, _item_names(file))


def _item_names(inter_file: Path) -> dict | None:
    """Titles from the RecBole .item file next to the .inter file, if there is one."""
    item_file = inter_file.with_suffix(".item")
    if not item_file.is_file():
        return None
    with open(item_file, newline="", encoding="utf-8", errors="replace") as fh:
        rows = csv_rows(csv.reader(fh, delimiter="\t"), item_file)
        header = next(rows, (0, []))[1]
        idc = _column(header, ("item_id",))
        namec = next((i for i, h in enumerate(header) if h.split(":")[0] in ("movie_title", "title", "name")), None)
        if idc is None or namec is None:
            return None
        return {r[idc]: r[namec] for _, r in rows if len(r) > max(idc, namec)}


def load_csv(path: Path, cfg: dict) -> Dataset:
    if not path.is_file():
        raise DataError(f"data: {path}: not a file; data_format csv needs a .csv file")
    with open_text(path) as fh:
        sample = fh.read(4096)
        fh.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(fh, dialect)
        rows = csv_rows(reader, path)
        header = next(rows, (0, None))[1]
        if not header:
            raise DataError(f"data: {path}: empty file; expected a header like user,item,rating,timestamp")
        cols = _columns(path, header)
        users, items, ratings, times = _parse_rows(path, rows, cols)
    return _interactions_to_dataset(path, cfg, users, items, ratings, times)
