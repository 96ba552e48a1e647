"""RecBole's own config files load unchanged: every key is known (honoured, or accepted and
named in one note line), eval_args and the interval syntax are RecBole's, and anything
else is still an unknown key with a suggestion."""
from __future__ import annotations

import pytest
import yaml

from engine.config import schema as config
from engine.config import files as config_files
from engine.config import recbole_keys
from engine.errors import ConfigError

FILES = ("overall.yaml", "DiffRec.yaml", "LDiffRec.yaml", "dataset_properties_ml-100k.yaml",
         "dataset_properties_sample.yaml")


def concatenated(folder, *names, tmp_path, extra: str = "") -> str:
    """The files joined as `cat` joins them (overall.yaml has no final newline)."""
    path = tmp_path / "recbole.yaml"
    path.write_text("".join((folder / n).read_text(encoding="utf-8") for n in names) + extra, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("name", FILES)
def test_every_key_of_recboles_files_is_known(recbole_files, name):
    raw = yaml.safe_load((recbole_files / name).read_text(encoding="utf-8"))
    unknown = [k for k in raw if k not in config.SCHEMA and k not in recbole_keys.IGNORED]
    assert unknown == []
    cfg = config.resolve(raw)  # and they validate as they are
    assert set(cfg) == set(config.SCHEMA)


def test_overall_and_diffrec_concatenated_load_with_recboles_meaning(recbole_files, tmp_path):
    path = concatenated(recbole_files, "overall.yaml", "DiffRec.yaml", tmp_path=tmp_path)
    cfg, note = config_files.load_with_note(path)
    assert cfg["learner"] == "adam"  # a given learner wins over our AdamW default
    assert (cfg["split"], cfg["order"], cfg["leave_one_out"]) == ([0.8, 0.1, 0.1], "RO", "off")
    assert cfg["topk"] == [10] and cfg["valid_metric"] == "MRR@10"
    assert cfg["metrics"] == ["Recall", "MRR", "NDCG", "Hit", "Precision"]
    assert cfg["gpu_id"] == "0" and cfg["use_gpu"] is True and cfg["eval_batch_size"] == 4096
    assert cfg["checkpoint_dir"].endswith("/saved") and cfg["data_path"].endswith("/dataset")
    ignored, protocol, batches = note.split("\n")  # the ignored keys, how RecBole's files are read, eval batches
    assert ignored.startswith("note: 14 RecBole keys") and protocol.startswith("note: read as RecBole does")
    assert batches.startswith("note: eval_batch_size 4096 counts scores") and "eval_batch_size: 0" in batches
    note = ignored
    for key in ("worker", "state", "log_wandb", "train_neg_sample_args", "metric_decimal_place", "repeatable"):
        assert key in note
    assert "learner" not in note and "eval_args" not in note


def test_dataset_properties_keys_are_honoured(recbole_files):
    cfg, note = config_files.load_with_note(recbole_files / "dataset_properties_ml-100k.yaml")
    assert cfg["field_separator"] == "\t" and cfg["USER_ID_FIELD"] == "user_id"
    assert cfg["load_col"] == {"inter": ["user_id", "item_id", "rating", "timestamp"]}
    assert "seq_separator" in note and "kg_reverse_r" in note and "load_col" not in note


def test_a_small_eval_batch_size_gets_a_note_and_auto_or_a_large_one_none(tmp_path):
    path = tmp_path / "c.yaml"
    for value, noted in ((4096, True), (0, False), (500_000, False)):
        path.write_text(f"eval_batch_size: {value}\n", encoding="utf-8")
        note = config_files.load_with_note(path)[1]
        assert (note is not None and "eval_batch_size" in note) == noted


def test_no_note_without_ignored_keys(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("steps: 5\n", encoding="utf-8")
    assert config_files.load_with_note(path)[1] is None


@pytest.mark.parametrize("raw, message", [
    ({"learnr": "adam"}, "unknown key `learnr` (did you mean `learner`?)"),
    ({"log_wandbb": True}, "did you mean `log_wandb`?"),
    ({"learner": "sparse_adam"}, "`learner`"),
    ({"eval_args": {"mode": "uni100"}}, "mode `uni100` is not supported"),
    ({"eval_args": {"mode": {"valid": "full", "test": "pop100"}}}, "mode `pop100`"),
    ({"eval_args": {"group_by": "none"}}, "group_by `none` is not supported"),
    ({"eval_args": {"split": {"TS": [0.8, 0.1, 0.1]}}}, "split TS"),
    ({"eval_args": {"split": {"LS": "valid"}}}, "split LS `valid` must be one of"),
    ({"eval_args": {"split": {"RS": [0.8, 0.2]}}}, "three ratios"),
    ({"eval_args": {"ordr": "RO"}}, "has no `ordr` entry (did you mean `order`?)"),
    ({"clip_grad_norm": {"max_norm": -1}}, "max_norm"),
    ({"clip_grad_norm": {"norm_type": 2}}, "needs max_norm"),
    ({"clip_grad_norm": {"max_nrom": 5}}, "has no `max_nrom` argument"),
    ({"gpu_id": "cuda0"}, "GPU ids like '0'"),
    ({"user_inter_num_interval": "[5,inf"}, "not an interval"),
    ({"item_inter_num_interval": "[9,3]"}, "is empty"),
    ({"val_interval": {"rating": "4"}}, "entry `rating`"),
    ({"field_separator": "::"}, "one character"),
    ({"rm_dup_inter": "keep"}, "first or last"),
    ({"benchmark_filename": ["train", "test"]}, "three files"),
    ({"load_col": {"inter": "user_id"}}, "list of column names"),
    ({"load_col": {"inter": ["user_id"]}, "unload_col": {"inter": ["rating"]}}, "set one of them"),
])
def test_bad_recbole_values_are_one_line_errors(raw, message):
    with pytest.raises(ConfigError) as err:
        config.resolve(raw)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_eval_args_leave_one_out_and_order_map_but_explicit_keys_win():
    cfg = config.resolve({"eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user",
                                        "mode": {"valid": "full", "test": "full"}}})
    assert cfg["leave_one_out"] == "valid_and_test" and cfg["order"] == "TO"
    cfg = config.resolve({"eval_args": {"split": {"LS": "test_only"}}, "leave_one_out": "off"})
    assert cfg["leave_one_out"] == "off"


@pytest.mark.parametrize("text, expected", [
    ("[5,inf)", [("[", 5.0, float("inf"), ")")]),
    ("(0,1];[3,4)", [("(", 0.0, 1.0, "]"), ("[", 3.0, 4.0, ")")]),
    (" [ -1.5 , 2e3 ] ", [("[", -1.5, 2000.0, "]")]),
])
def test_interval_syntax(text, expected):
    assert recbole_keys.parse_intervals(text) == expected


def test_topk_as_an_int_and_metrics_as_a_string():
    cfg = config.resolve({"topk": 10, "metrics": "Hit", "valid_metric": "hit@10"})
    assert cfg["topk"] == [10] and cfg["metrics"] == ["Hit"]


@pytest.mark.parametrize("raw, device, gpu", [
    ({}, "auto", 0),
    ({"use_gpu": False}, "cpu", 0),
    ({"gpu_id": ""}, "cpu", None),  # RecBole: no GPU id, no GPU
    ({"gpu_id": "2,3"}, "auto", 2),
    ({"use_gpu": False, "device": "cuda:1"}, "cuda:1", 0),  # an explicit device wins
])
def test_use_gpu_and_gpu_id_choose_the_device(raw, device, gpu):
    cfg = config.resolve(raw)
    assert recbole_keys.requested_device(cfg) == device
    assert recbole_keys.gpu_index(cfg) == gpu


def test_set_accepts_an_ignored_key_and_names_it(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("steps: 5\n", encoding="utf-8")
    cfg, note = config_files.load_with_note(path, ["worker=4", "learner=SGD"])
    assert cfg["learner"] == "sgd" and "worker" not in cfg
    assert note and "worker" in note
