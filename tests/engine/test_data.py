"""Data loaders (DiffRec split folders, RecBole atomic, CSV, synthetic), the per-user
chronological split, T-DiffRec weights, dropped duplicates / unseen items, and loader errors."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from engine.data import loaders as data
from engine.data import synthetic
from engine.config import schema as config
from engine.errors import DataError

# ------------------------------------------------------------------ helpers


def cfg_for(fmt: str, path, **raw) -> dict:
    return config.resolve({"data_format": fmt, "data_path": str(path), "dataset": "t", **raw})


def write_csv(path, header, rows, delimiter=","):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow(header)
        w.writerows(rows)
    return path


def chronological_rows(seed=0, n_users=6, per_user=10):
    """Rows (user, item, rating, time) in shuffled file order, each user with distinct items."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        items = rng.choice(40, per_user, replace=False)
        times = rng.permutation(per_user) * 100 + 1_000_000 + u
        rows += [(f"user{u}", f"item{i}", 5, int(t)) for i, t in zip(items, times)]
    order = rng.permutation(len(rows))
    return [rows[i] for i in order]


def by_user_in_time(rows):
    out = {}
    for user, item, _, t in sorted(rows, key=lambda r: r[3]):
        out.setdefault(user, []).append(item)
    return out


def split_as_names(ds, item_tokens, user_tokens):
    """{user token: (train items oldest first, valid set, test set)} in item tokens."""
    out = {}
    for u, token in enumerate(user_tokens):
        out[token] = ([item_tokens[i] for i in ds.history(u)],
                      {item_tokens[i] for i in ds.valid[u].indices},
                      {item_tokens[i] for i in ds.test[u].indices})
    return out


# ------------------------------------------------------------------ the paper's split folders

def test_diffrec_npy_on_ml1m_clean(shared_dataset):
    folder = shared_dataset("ml-1m_clean")
    ds = data.load(cfg_for("diffrec_npy", folder))
    assert (ds.n_users, ds.n_items) == (5949, 2810)
    assert (ds.stats["n_train"], ds.stats["n_valid"], ds.stats["n_test"]) == (403277, 110722, 57532)
    assert ds.valid.nnz == 110722 and ds.test.nnz == 57532 and len(ds.train_items) == 403277
    assert ds.stats["duplicates_dropped"] == 0 and ds.stats["unseen_dropped"] == 0
    assert ds.item_emb is not None and ds.item_emb.shape == (2810, 64)
    # Each user's training items keep the file's (chronological) order.
    raw = np.load(folder / "train_list.npy")
    for user in (0, 1, 17, 2500, 5948):
        assert ds.history(user).tolist() == raw[raw[:, 0] == user, 1].tolist()


def write_npy_folder(folder, train, valid, test, emb=None):
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in (("train", train), ("valid", valid), ("test", test)):
        np.save(folder / f"{name}_list.npy", np.asarray(arr))
    if emb is not None:
        np.save(folder / "item_emb.npy", emb)
    return folder


NPY_TRAIN = [[0, 3], [0, 1], [0, 3], [1, 2], [1, 0], [2, 1], [2, 2]]  # (0, 3) twice
NPY_VALID = [[0, 2], [0, 1], [1, 1], [2, 4]]  # (0, 1) is also in train; item 4 never trained on
NPY_TEST = [[0, 0], [1, 3], [2, 0], [2, 4], [1, 3]]  # item 4 unseen again; (1, 3) twice


def test_npy_folder_drops_and_counts_duplicates_and_unseen_items(tmp_path):
    folder = write_npy_folder(tmp_path / "d", NPY_TRAIN, NPY_VALID, NPY_TEST)
    ds = data.load(cfg_for("diffrec_npy", folder, drop_unseen_targets=True))
    assert (ds.n_users, ds.n_items) == (3, 5)
    assert ds.stats["duplicates_dropped"] == 3
    assert ds.stats["unseen_dropped"] == 2 and ds.stats["unseen_targets"] == 2
    assert ds.history(0).tolist() == [3, 1]  # the first occurrence kept, order kept
    assert sorted(zip(*ds.valid.toarray().nonzero())) == [(0, 2), (1, 1)]
    assert sorted(zip(*ds.test.toarray().nonzero())) == [(0, 0), (1, 3), (2, 0)]
    assert ds.stats["n_train"] == 6 and ds.stats["n_valid"] == 2 and ds.stats["n_test"] == 3


def test_npy_folder_keeps_unseen_items_as_targets_by_default(tmp_path):
    ds = data.load(cfg_for("diffrec_npy", write_npy_folder(tmp_path / "d", NPY_TRAIN, NPY_VALID, NPY_TEST)))
    assert ds.stats["unseen_targets"] == 2 and ds.stats["unseen_dropped"] == 0
    assert sorted(zip(*ds.valid.toarray().nonzero())) == [(0, 2), (1, 1), (2, 4)]
    assert sorted(zip(*ds.test.toarray().nonzero())) == [(0, 0), (1, 3), (2, 0), (2, 4)]
    assert ds.stats["n_valid"] == 3 and ds.stats["n_test"] == 4 and ds.stats["duplicates_dropped"] == 3


@pytest.mark.parametrize("case, words", [
    ("missing_file", ["test_list.npy", "not found"]),
    ("shape", ["train_list.npy", "shape", "(4, 3)"]),
    ("dtype_str", ["train_list.npy", "dtype"]),
    ("dtype_bool", ["valid_list.npy", "dtype"]),
    ("negative", ["valid_list.npy", "negative", "row 1"]),
    ("float", ["test_list.npy", "non-integer", "row 1"]),
    ("empty", ["test_list.npy", "empty"]),
    ("emb_shape", ["item_emb.npy", "shape"]),
])
def test_npy_folder_errors_name_the_file_and_the_problem(tmp_path, case, words):
    good = np.array([[0, 0], [0, 1], [1, 1], [1, 2]])
    train, valid, test, emb = good, good[:2], good[2:], None
    if case == "shape":
        train = np.array([[0, 0, 1]] * 4)
    elif case == "dtype_str":
        train = good.astype(str)
    elif case == "dtype_bool":
        valid = np.array([[True, False]])
    elif case == "negative":
        valid = np.array([[0, 1], [-1, 2]])
    elif case == "float":
        test = np.array([[1.0, 2.0], [1.0, 2.5]])
    elif case == "empty":
        test = np.zeros((0, 2), dtype=np.int64)
    elif case == "emb_shape":
        emb = np.zeros((2, 4), dtype=np.float32)
    folder = write_npy_folder(tmp_path / "d", train, valid, test, emb)
    if case == "missing_file":
        (folder / "test_list.npy").unlink()
    with pytest.raises(DataError) as err:
        data.load(cfg_for("diffrec_npy", folder))
    msg = str(err.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, msg


def test_missing_data_path_names_the_format(tmp_path):
    with pytest.raises(DataError) as err:
        data.load(cfg_for("diffrec_npy", tmp_path / "nowhere"))
    assert "nowhere" in str(err.value) and "train_list.npy" in str(err.value)


def test_float_ids_that_are_whole_numbers_are_accepted(tmp_path):
    good = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 2.0]])
    ds = data.load(cfg_for("diffrec_npy", write_npy_folder(tmp_path / "d", good, good[:1], good[2:3])))
    assert ds.train_items.dtype == np.int64 and ds.n_items == 3


# ------------------------------------------------------------------ CSV and RecBole atomic

def test_csv_split_is_chronological_per_user(tmp_path):
    rows = chronological_rows()
    path = write_csv(tmp_path / "x.csv", ["user", "item", "rating", "timestamp"], rows)
    ds = data.load(cfg_for("csv", path))
    user_tokens = sorted({r[0] for r in rows})
    item_tokens = sorted({r[1] for r in rows})
    assert (ds.n_users, ds.n_items) == (len(user_tokens), len(item_tokens))
    got = split_as_names(ds, item_tokens, user_tokens)
    timeline = by_user_in_time(rows)
    trained = {i for items in timeline.values() for i in items[:8]}  # held-out items must be in here
    for user, items in timeline.items():
        train, valid, test = got[user]
        # 10 interactions, 0.8/0.1/0.1: the 8 oldest train (in time order), then valid, then test.
        assert train == items[:8]
        assert valid == {items[8]}  # kept even when training never saw it (a target no model learnt)
        assert test == {items[9]}
    assert ds.stats["unseen_targets"] == sum(len({it[8], it[9]} - trained) for it in timeline.values()) > 0
    assert ds.stats["unseen_dropped"] == 0
    assert ds.stats["n_train"] + ds.stats["n_valid"] + ds.stats["n_test"] + ds.stats["unseen_dropped"] == len(rows)


def test_atomic_file_split_is_chronological_and_reads_titles(tmp_path):
    rows = chronological_rows(seed=1, n_users=5, per_user=10)
    inter = tmp_path / "toy" / "toy.inter"
    inter.parent.mkdir()
    write_csv(inter, ["user_id:token", "item_id:token", "rating:float", "timestamp:float"], rows, "\t")
    item_tokens = sorted({r[1] for r in rows})
    write_csv(inter.with_suffix(".item"), ["item_id:token", "movie_title:token_seq"],
              [(t, f"Title of {t}") for t in item_tokens], "\t")
    for path in (inter, inter.parent):  # the file, or the folder holding it
        ds = data.load(cfg_for("atomic", path))
        assert ds.item_names == [f"Title of {t}" for t in item_tokens]
        got = split_as_names(ds, item_tokens, sorted({r[0] for r in rows}))
        timeline = by_user_in_time(rows)
        trained = {i for items in timeline.values() for i in items[:8]}
        for user, items in timeline.items():
            assert got[user][0] == items[:8]
            assert got[user][1] == {items[8]} and got[user][2] == {items[9]}
        dropped = split_as_names(data.load(cfg_for("atomic", path, drop_unseen_targets=True)), item_tokens,
                                 sorted({r[0] for r in rows}))
        for user, items in timeline.items():
            assert dropped[user][1] == {items[8]} & trained and dropped[user][2] == {items[9]} & trained


def test_rating_threshold_keeps_positives(tmp_path):
    rows = [("a", f"i{i}", r, i) for i, r in enumerate([5, 1, 4, 3, 5, 4, 2, 5, 4, 4])]
    rows += [("b", f"i{i}", 5, i) for i in range(10)]
    path = write_csv(tmp_path / "x.csv", ["user", "item", "rating", "timestamp"], rows)
    ds = data.load(cfg_for("csv", path, rating_threshold=4))
    kept = sum(1 for r in rows if r[2] >= 4)
    total = ds.stats["n_train"] + ds.stats["n_valid"] + ds.stats["n_test"] + ds.stats["unseen_dropped"]
    assert total == kept == 17
    assert ds.n_items == 10  # every item is a positive for user b


def test_rating_threshold_without_a_rating_column(tmp_path):
    path = write_csv(tmp_path / "x.csv", ["user", "item"], [("a", "x"), ("a", "y"), ("a", "z")])
    with pytest.raises(DataError, match="rating"):
        data.load(cfg_for("csv", path, rating_threshold=4))


def test_csv_duplicates_and_unseen_items_are_dropped_and_counted(tmp_path):
    rows = []
    for u in range(4):
        rows += [(f"u{u}", f"i{(u + k) % 10}", 5, 10 * k) for k in range(9)]
    rows.append(("u0", "i0", 5, 95))  # a repeat of u0's oldest item, now its newest
    rows.append(("u1", "rare", 5, 99))  # an item nobody trained on, held out as u1's test item
    path = write_csv(tmp_path / "x.csv", ["user", "item", "rating", "timestamp"], rows)
    assert data.load(cfg_for("csv", path)).stats["unseen_targets"] == 1  # kept by default, counted
    ds = data.load(cfg_for("csv", path, drop_unseen_targets=True))
    assert ds.stats["duplicates_dropped"] == 1
    assert ds.stats["unseen_dropped"] == 1
    assert ds.n_items == 11  # 'rare' still has an id
    u0 = 0  # 'u0' sorts first; its repeat of i0 was its newest row, so its test set is empty
    assert ds.test[u0].nnz == 0 and ds.history(u0).tolist() == list(range(8))  # i0..i7, in time order
    assert ds.valid[u0].indices.tolist() == [8]


def test_short_users_keep_everything_in_train(tmp_path):
    rows = [("short", "a", 5, 1), ("short", "b", 5, 2)]
    rows += [("long", f"i{k}", 5, k) for k in range(10)]
    path = write_csv(tmp_path / "x.csv", ["user", "item", "rating", "timestamp"], rows)
    ds = data.load(cfg_for("csv", path))
    short = sorted(["short", "long"]).index("short")
    assert len(ds.history(short)) == 2 and ds.valid[short].nnz == 0 and ds.test[short].nnz == 0
    assert ds.stats["users_all_train"] == 1


def test_random_order_is_seeded(tmp_path):
    rows = chronological_rows(seed=3, n_users=8, per_user=20)
    path = write_csv(tmp_path / "x.csv", ["user", "item", "rating", "timestamp"], rows)
    a = data.load(cfg_for("csv", path, order="RO", seed=1))
    b = data.load(cfg_for("csv", path, order="RO", seed=1))
    c = data.load(cfg_for("csv", path, order="RO", seed=2))
    to = data.load(cfg_for("csv", path))
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != c.fingerprint() and a.fingerprint() != to.fingerprint()


def test_csv_with_semicolons_and_other_column_names(tmp_path):
    rows = [(f"u{u}", f"m{k}", k) for u in range(3) for k in range(6)]
    path = write_csv(tmp_path / "x.csv", ["userId", "movieId", "timestamp"], rows, ";")
    ds = data.load(cfg_for("csv", path, split=[0.6, 0.2, 0.2]))
    assert (ds.n_users, ds.n_items) == (3, 6)


@pytest.mark.parametrize("header, rows, words", [
    (["a", "b", "c"], [("1", "2", "3")], ["header has no user column", "a, b, c"]),
    (["user", "rating"], [("1", "2")], ["no item column"]),
    (["user", "item", "rating"], [], ["only a header"]),
    (["user", "item", "rating"], [("1", "2", "high")], ["line 2", "malformed"]),
    (["user", "item"], [("a", "x"), ("b", "y")], ["valid split is empty"]),
])
def test_csv_errors(tmp_path, header, rows, words):
    path = write_csv(tmp_path / "x.csv", header, rows)
    with pytest.raises(DataError) as err:
        data.load(cfg_for("csv", path))
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    for w in words:
        assert w in str(err.value)


def test_atomic_folder_without_inter_file(tmp_path):
    with pytest.raises(DataError, match=r"no \.inter file"):
        data.load(cfg_for("atomic", tmp_path))


def test_recbole_ml100k(shared_dataset):
    folder = shared_dataset("ml-100k")
    ds = data.load(cfg_for("atomic", folder))
    assert (ds.n_users, ds.n_items) == (943, 1682)
    s = ds.stats
    assert s["n_train"] + s["n_valid"] + s["n_test"] + s["unseen_dropped"] + s["duplicates_dropped"] == 100_000
    assert s["n_valid"] > 9000 and s["n_test"] > 9000  # ~10% each
    assert "Toy Story" in ds.item_names

    with open(folder / "ml-100k.inter", encoding="utf-8") as fh:
        next(fh)
        positives = [line.split("\t") for line in fh if float(line.split("\t")[2]) >= 4]
    ds4 = data.load(cfg_for("atomic", folder, rating_threshold=4))
    s = ds4.stats
    assert s["n_train"] + s["n_valid"] + s["n_test"] + s["unseen_dropped"] + s["duplicates_dropped"] \
        == len(positives) == 55_375
    assert ds4.n_users == len({r[0] for r in positives})
    assert ds4.n_items == len({r[1] for r in positives})


# ------------------------------------------------------------------ synthetic data

def test_synthetic_is_deterministic_for_a_seed_and_sized_as_asked():
    raw = {"synthetic_users": 500, "synthetic_items": 300, "synthetic_interactions": 25}
    a = data.load(config.resolve(raw))
    b = data.load(config.resolve(raw))
    c = data.load(config.resolve({**raw, "synthetic_seed": 1}))
    assert a.fingerprint() == b.fingerprint() and a.stats == b.stats
    assert a.fingerprint() != c.fingerprint()
    assert (a.n_users, a.n_items) == (500, 300)
    total = a.stats["n_train"] + a.stats["n_valid"] + a.stats["n_test"]
    assert 0.5 * 25 * 500 < total < 1.5 * 25 * 500
    assert a.stats["duplicates_dropped"] == 0
    assert all(a.valid[u].nnz >= 1 and a.test[u].nnz >= 1 for u in range(0, 500, 50))


def test_synthetic_train_is_each_users_oldest_interactions():
    cfg = config.resolve({"synthetic_users": 200, "synthetic_items": 150, "synthetic_interactions": 12})
    users, items, times = synthetic.interactions(200, 150, 12, cfg["synthetic_clusters"],
                                                 cfg["synthetic_popularity"], 0.0, cfg["synthetic_seed"])
    ds = data.load(cfg)
    for u in range(0, 200, 13):
        seq = items[users == u][np.argsort(times[users == u], kind="stable")].tolist()
        hist = ds.history(u).tolist()
        assert hist == seq[:len(hist)]
        assert set(ds.test[u].indices.tolist()) == set(seq[len(seq) - ds.test[u].nnz:])


def test_synthetic_popularity_is_skewed_and_noise_flattens_it():
    def top_share(**raw):
        ds = data.load(config.resolve({"synthetic_users": 1000, "synthetic_items": 400, **raw}))
        counts = np.sort(np.bincount(ds.train_items, minlength=400))[::-1]
        return counts[:40].sum() / counts.sum()  # share of the top 10% of items

    flat, skewed = top_share(synthetic_popularity=0.0), top_share(synthetic_popularity=1.0)
    assert flat < 0.2 and skewed > 2 * flat
    assert top_share(synthetic_popularity=1.0, synthetic_noise=0.5) < skewed - 0.05


# ------------------------------------------------------------------ T-DiffRec weights and batches

def test_time_aware_weights_rise_linearly_from_oldest_to_newest(tmp_path):
    rows = chronological_rows(seed=4, n_users=5, per_user=10)
    rows += [("solo", "item0", 5, 1), ("solo", "item1", 5, 2)]  # too short to split: 2 train items
    path = write_csv(tmp_path / "x.csv", ["user", "item", "rating", "timestamp"], rows)
    ds = data.load(cfg_for("csv", path))
    m = ds.train_matrix(time_aware=True, w_min=0.2, w_max=0.9)
    plain = ds.train_matrix()
    assert (plain != plain.astype(bool)).nnz == 0 and plain.nnz == m.nnz
    for u in range(ds.n_users):
        hist = ds.history(u)
        expected = np.linspace(0.2, 0.9, len(hist))
        np.testing.assert_allclose(m[u].toarray()[0, hist], expected, rtol=1e-6)


def test_train_matrix_holds_history_and_history_is_ordered(tmp_path):
    ds = data.load(config.resolve({"synthetic_users": 50, "synthetic_items": 40}))
    m = ds.train_matrix()
    for u in range(50):
        assert sorted(ds.history(u).tolist()) == m[u].indices.tolist()


def test_dense_rows_densifies_only_the_batch():
    import torch

    from engine.training.evaluation import dense_rows
    ds = data.load(config.resolve({"synthetic_users": 60, "synthetic_items": 30}))
    m = ds.train_matrix(time_aware=True)
    rows = np.array([5, 0, 59])
    out = dense_rows(m, rows, torch.device("cpu"))
    assert out.shape == (3, 30)
    np.testing.assert_allclose(out.numpy(), m[rows].toarray())
