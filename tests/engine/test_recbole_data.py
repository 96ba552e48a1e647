"""RecBole's data layout and dataset keys: <data_path>/<dataset>/<dataset>.inter, field names,
separators, load_col/unload_col, rm_dup_inter, val_interval, inter_num intervals (k-core),
leave-one-out splits, benchmark files, data_format auto, and the dataset's own tokens."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from engine.data import loaders as data
from engine.data import layout
from engine.config import schema as config
from engine.config import files as config_files
from engine.errors import DataError
from test_data import write_csv

HEADER = ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]


def write_inter(path, rows, header=HEADER, sep="\t"):
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_csv(path, header, rows, sep)


def rows_for(n_users=6, per_user=10, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for u in range(n_users):
        for k, i in enumerate(rng.choice(30, per_user, replace=False)):
            out.append((f"u{u}", f"i{i}", int(rng.integers(1, 6)), 1000 + 10 * k + u))
    return out


def load(**raw):
    return data.load(config_files.absolute_paths(config.resolve(raw)))


def held_out(ds):
    return ds.stats["n_train"] + ds.stats["n_valid"] + ds.stats["n_test"]


# ------------------------------------------------------------------ layout

def test_recbole_layout_data_path_plus_dataset(tmp_path):
    write_inter(tmp_path / "dataset" / "toy" / "toy.inter", rows_for())
    write_inter(tmp_path / "dataset" / "other" / "other.inter", rows_for(seed=1))
    ds = load(data_path=str(tmp_path / "dataset"), dataset="toy")  # data_format auto
    assert ds.n_users == 6 and ds.name == "toy"
    src = layout.locate(config.resolve({"data_path": str(tmp_path / "dataset"), "dataset": "toy"}))
    assert src.format == "atomic" and src.path == tmp_path / "dataset" / "toy" / "toy.inter"


@pytest.mark.parametrize("where", ["file", "folder"])
def test_plain_file_or_folder_still_works(tmp_path, where):
    inter = write_inter(tmp_path / "d" / "whatever.inter", rows_for())
    ds = load(data_format="atomic", data_path=str(inter if where == "file" else inter.parent), dataset="x")
    assert ds.n_users == 6


@pytest.mark.parametrize("setup, words", [
    ("nothing", ["no .inter file", "<data_path>/<dataset>/<dataset>.inter", "set data_path and dataset"]),
    ("two", ["several .inter files", "a, b", "set dataset"]),
])
def test_layout_errors_say_what_was_looked_for(tmp_path, setup, words):
    if setup == "two":
        write_inter(tmp_path / "a.inter", rows_for())
        write_inter(tmp_path / "b.inter", rows_for())
    with pytest.raises(DataError) as err:
        load(data_format="atomic", data_path=str(tmp_path), dataset="ml-100k")
    for w in words:
        assert w in str(err.value)


def test_data_format_auto_tells_the_format(tmp_path):
    assert layout.locate(config.resolve({})).format == "synthetic"
    csv_file = tmp_path / "x.csv"
    csv_file.write_text("user,item\n", encoding="utf-8")
    assert layout.locate(config.resolve({"data_path": str(csv_file)})).format == "csv"
    (tmp_path / "npy").mkdir()
    np.save(tmp_path / "npy" / "train_list.npy", np.zeros((1, 2), dtype=np.int64))
    assert layout.locate(config.resolve({"data_path": str(tmp_path / "npy")})).format == "diffrec_npy"
    odd = tmp_path / "x.dat"
    odd.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="set data_format"):
        layout.locate(config.resolve({"data_path": str(odd)}))


def test_benchmark_files_are_the_splits(tmp_path):
    rows = rows_for(per_user=12)
    folder = tmp_path / "ds" / "bm"
    parts = {"train": [], "valid": [], "test": []}
    for r in rows:
        k = (r[3] - 1000) // 10
        parts["train" if k < 8 else "valid" if k < 10 else "test"].append(r)
    for name, part in parts.items():
        write_inter(folder / f"bm.{name}.inter", part)
    ds = load(data_path=str(tmp_path / "ds"), dataset="bm", benchmark_filename=["train", "valid", "test"],
              split=[0.5, 0.0, 0.5])  # ignored: the files are the split
    assert ds.stats["n_train"] == len(parts["train"])
    assert ds.stats["n_valid"] + ds.stats["unseen_dropped"] + ds.stats["n_test"] == 24
    u0 = ds.user_tokens.index("u0")  # train history oldest first
    times = {r[1]: r[3] for r in parts["train"] if r[0] == "u0"}
    assert [times[ds.item_tokens[i]] for i in ds.history(u0)] == sorted(times.values())


# ------------------------------------------------------------------ field keys

def test_field_names_separator_and_load_col(tmp_path):
    rows = [(r[1], r[0], r[3], r[2]) for r in rows_for()]  # columns in another order, other names
    f = write_inter(tmp_path / "x.inter", rows, ["movie:token", "person:token", "when:float", "stars:float"], ",")
    raw = dict(data_format="atomic", data_path=str(f), USER_ID_FIELD="person", ITEM_ID_FIELD="movie",
               TIME_FIELD="when", RATING_FIELD="stars", field_separator=",")
    ds = load(**raw)
    assert ds.n_users == 6 and ds.user_tokens[0] == "u0" and ds.item_tokens[0].startswith("i")
    assert held_out(load(**raw, rating_threshold=4)) == sum(1 for r in rows if r[3] >= 4) - \
        load(**raw, rating_threshold=4).stats["unseen_dropped"]
    with pytest.raises(DataError, match="rating_threshold is set but the file has no rating column"):
        load(**raw, rating_threshold=4, load_col={"inter": ["person", "movie", "when"]})
    with pytest.raises(DataError, match="rating_threshold"):
        load(**raw, rating_threshold=4, unload_col={"inter": ["stars"]})
    with pytest.raises(DataError, match="USER_ID_FIELD `person` is not loaded: add `person` to load_col"):
        load(**raw, load_col={"inter": ["movie", "when"]})
    with pytest.raises(DataError, match="USER_ID_FIELD `who` is not in the header"):
        load(**{**raw, "USER_ID_FIELD": "who"})


def test_load_col_without_time_orders_by_file(tmp_path):
    rows = rows_for(n_users=3, per_user=10)[::-1]  # the file lists each user's newest first
    f = write_inter(tmp_path / "x.inter", rows)
    by_time = load(data_format="atomic", data_path=str(f))
    by_file = load(data_format="atomic", data_path=str(f), load_col={"inter": ["user_id", "item_id", "rating"]})
    assert by_time.fingerprint() != by_file.fingerprint()
    u = by_file.user_tokens.index("u0")
    file_order = [r[1] for r in rows if r[0] == "u0"]
    assert [by_file.item_tokens[i] for i in by_file.history(u)] == file_order[:8]


# ------------------------------------------------------------------ filters

def test_rm_dup_inter_keeps_the_first_or_last_by_time(tmp_path):
    rows = [("a", "x", 5, 30), ("a", "x", 1, 10), ("a", "y", 5, 20), ("a", "z", 5, 40), ("a", "w", 5, 50)]
    rows += [("b", f"i{k}", 5, k) for k in range(6)] + [("b", "x", 5, 9), ("b", "y", 5, 8), ("b", "z", 5, 7)]
    f = write_inter(tmp_path / "x.inter", rows)
    base = dict(data_format="atomic", data_path=str(f), split=[1.0, 0.0, 0.0])
    first = load(**base, rm_dup_inter="first", val_interval={"rating": "[4,inf)"})
    last = load(**base, rm_dup_inter="last", val_interval={"rating": "[4,inf)"})
    a = first.user_tokens.index("a")
    # first by time is x@10 (rating 1, then filtered out); last by time is x@30 (rating 5, kept)
    assert "x" not in {first.item_tokens[i] for i in first.history(a)}
    assert [last.item_tokens[i] for i in last.history(a)] == ["y", "x", "z", "w"]


def test_val_interval_numbers_and_tokens(tmp_path):
    rows = rows_for()
    f = write_inter(tmp_path / "x.inter", rows)
    base = dict(data_format="atomic", data_path=str(f), split=[1.0, 0.0, 0.0])
    ds = load(**base, val_interval={"rating": "[2,3];(4,inf)", "timestamp": "[1000,1060)"})
    kept = [r for r in rows if (2 <= r[2] <= 3 or r[2] > 4) and 1000 <= r[3] < 1060]
    assert ds.stats["n_train"] == len(kept)
    ds = load(**base, val_interval={"user_id": ["u1", "u3"]})
    assert ds.user_tokens == ["u1", "u3"]
    with pytest.raises(DataError, match="val_interval names `age`"):
        load(**base, val_interval={"age": "[18,inf)"})


def test_inter_num_intervals_repeat_until_every_kept_user_and_item_qualifies(tmp_path):
    rng = np.random.default_rng(4)
    rows = []
    for u in range(40):
        n = int(rng.integers(1, 12))
        items = rng.choice(60, n, replace=False, p=np.linspace(2, 0.1, 60) / np.linspace(2, 0.1, 60).sum())
        rows += [(f"u{u}", f"i{i}", 5, k) for k, i in enumerate(items)]
    f = write_inter(tmp_path / "x.inter", rows)
    ds = load(data_format="atomic", data_path=str(f), split=[1.0, 0.0, 0.0],
              user_inter_num_interval="[5,inf)", item_inter_num_interval="[4,inf)")
    m = ds.train_matrix()
    assert (np.diff(m.indptr) >= 5).all() and (np.asarray(m.sum(0)).ravel() >= 4).all()
    # one pass would not be enough: dropping users made some items too rare, and so on
    users = {r[0] for r in rows if sum(1 for s in rows if s[0] == r[0]) >= 5}
    assert len(ds.user_tokens) < len(users)


# ------------------------------------------------------------------ splits

@pytest.mark.parametrize("mode, n_valid, n_test", [("valid_and_test", 1, 1), ("valid_only", 1, 0),
                                                   ("test_only", 0, 1)])
def test_leave_one_out_holds_out_the_last_items(tmp_path, mode, n_valid, n_test):
    rows = rows_for(n_users=5, per_user=8) + [("short", "i1", 5, 1), ("short", "i2", 5, 2)]
    f = write_inter(tmp_path / "x.inter", rows)
    ds = load(data_format="atomic", data_path=str(f), order="TO",
              eval_args={"split": {"LS": mode}, "order": "TO", "group_by": "user", "mode": "full"})
    for u, token in enumerate(ds.user_tokens):
        mine = sorted((r for r in rows if r[0] == token), key=lambda r: r[3])
        if token == "short":  # two interactions: one stays in train, the last is held out
            assert len(ds.history(u)) == 1
            continue
        # the held-out item is kept when training saw it (unseen ones are dropped, and counted)
        valid = [ds.item_tokens[i] for i in ds.valid[u].indices]
        test = [ds.item_tokens[i] for i in ds.test[u].indices]
        assert valid in ([], [mine[-1 - n_test][1]]) if n_valid else valid == []
        assert test in ([], [mine[-1][1]]) if n_test else test == []
        assert len(ds.history(u)) == 8 - n_valid - n_test
    assert ds.stats["n_valid"] + ds.stats["n_test"] + ds.stats["unseen_dropped"] == 5 * (n_valid + n_test) + 1


# ------------------------------------------------------------------ the real ml-100k

def test_ml100k_in_recboles_layout_keeps_its_ids_and_titles(shared_dataset, tmp_path):
    folder = tmp_path / "dataset"
    shutil.copytree(shared_dataset("ml-100k"), folder / "ml-100k")
    ds = load(data_path=str(folder), dataset="ml-100k")
    assert (ds.n_users, ds.n_items) == (943, 1682)
    fargo = ds.item_tokens.index("100")
    assert ds.item_names[fargo] == "Fargo" and ds.user_tokens[0] == "1"
