"""RecBole parity of the data keys: the same filters and split on ml-100k, counted by
RecBole itself and by this engine (users, items, interactions kept; LS split sizes).

Needs RecBole (`pip install recbole==1.2.1` in a scratch environment: it is not a
dependency) and ml-100k in RecBole's layout:

    python benchmarks/recbole_parity.py DATA_PATH      # DATA_PATH/ml-100k/ml-100k.inter
"""
from __future__ import annotations

import sys

from engine.data import loaders as data
from engine.config import schema as config
from engine.config import files as config_files

CASES = {
    "k-core [20,inf)": {"user_inter_num_interval": "[20,inf)", "item_inter_num_interval": "[20,inf)"},
    "rating [4,inf) + [10,inf) / [10,200)": {"val_interval": {"rating": "[4,inf)"},
                                             "user_inter_num_interval": "[10,inf)",
                                             "item_inter_num_interval": "[10,200)"},
    "rating [1,2];[5,5]": {"val_interval": {"rating": "[1,2];[5,5]"}},
}
LS = {"eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user", "mode": "full"}}
LOAD = {"load_col": {"inter": ["user_id", "item_id", "rating", "timestamp"]}}


def ours(data_path: str, extra: dict):
    ds = data.load(config_files.absolute_paths(config.resolve({"data_path": data_path, "dataset": "ml-100k",
                                                         **LOAD, **extra})))
    s = ds.stats
    kept = s["n_train"] + s["n_valid"] + s["n_test"] + s["unseen_dropped"] + s["duplicates_dropped"]
    return ds.n_users, ds.n_items, kept, (s["n_train"], s["n_valid"], s["n_test"], s["unseen_dropped"])


def recbole(data_path: str, extra: dict):
    from recbole.config import Config
    from recbole.data import create_dataset
    cfg = Config(model="Pop", dataset="ml-100k", config_dict={"data_path": data_path, "show_progress": False,
                                                              "state": "ERROR", **LOAD, **extra})
    ds = create_dataset(cfg)
    return ds.user_num - 1, ds.item_num - 1, ds.inter_num, ds


def main(data_path: str) -> None:
    print(f"{'case':<40}{'RecBole users/items/inters':>30}{'here':>26}")
    for name, extra in CASES.items():
        theirs, mine = recbole(data_path, extra)[:3], ours(data_path, extra)[:3]
        print(f"{name:<40}{str(theirs):>30}{str(mine):>26}  {'same' if theirs == mine else 'DIFFERENT'}")
    train, valid, test = recbole(data_path, LS)[3].build()
    n_train, n_valid, n_test, unseen = ours(data_path, LS)[3]
    print(f"LS valid_and_test, TO: RecBole train/valid/test {len(train)}/{len(valid)}/{len(test)}; here "
          f"{n_train}/{n_valid}/{n_test} (+{unseen} held-out items never seen in training, dropped here)")


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "dataset/"
    sys.argv = sys.argv[:1]  # RecBole's Config reads the command line too
    main(path)
