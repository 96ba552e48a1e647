"""Config schema: RecBole files load unchanged, --set typing, unknown keys, cross-field rules,
YAML round trip and RecBole's eval_args."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.config import schema as config
from engine.config import fields as config_fields
from engine.config import files as config_files
from engine.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]

# RecBole's published DiffRec.yaml (recbole/properties/model/DiffRec.yaml), as DESIGN.md section 2 lists it.
RECBOLE_DIFFREC = {
    "noise_schedule": "linear", "noise_scale": 0.001, "noise_min": 0.0005, "noise_max": 0.005,
    "sampling_noise": False, "sampling_steps": 0, "reweight": True, "mean_type": "x0", "steps": 5,
    "history_num_per_term": 10, "beta_fixed": True, "dims_dnn": [300], "embedding_size": 10,
    "mlp_act_func": "tanh", "time-aware": False, "w_max": 1, "w_min": 0.1,
}

# RecBole's LDiffRec.yaml, written the way RecBole writes it (quoted strings, True/False, comments).
RECBOLE_LDIFFREC_TEXT = """\
# params for autoencoder
n_cate: 1                       # (int) Category num of items
reparam: True                   # (bool) Autoencoder with variational inference or not
in_dims: [300]                  # (list of int) The dims for the encoder
out_dims: []                    # (list of int) The hidden dims for the decoder
ae_act_func: 'tanh'             # (str) Activation function for AutoEncoder
lamda: 0.03                     # (float) Hyper-parameter of multinomial log-likelihood for AE
anneal_cap: 0.005               # (float) The upper bound of the annealing weight
anneal_steps: 1000              # (int) The steps of annealing
vae_anneal_cap: 0.3             # (float) The upper bound of the VAE annealing weight
vae_anneal_steps: 200           # (int) The steps of VAE annealing

# params for diffusion
noise_schedule: 'linear'        # (str) The schedule for noise generating: ['linear', 'linear-var', 'cosine', 'binomial']
noise_scale: 0.1                # (int) The scale for noise generating
noise_min: 0.001                # (int) Noise lower bound for noise generating
noise_max: 0.005                # (int) 0.005 Noise upper bound for noise generating
sampling_noise: False           # (bool) Sampling noise or not
sampling_steps: 0               # (int) The steps for sampling
reweight: True                  # (bool) Assign different weight to different timestep or not
mean_type: 'x0'                 # (str) MeanType for diffusion: ['x0', 'eps']
steps: 5                        # (int) Diffusion steps
history_num_per_term: 10        # (int) The number of history items needed to calculate loss weight
beta_fixed: True                # (bool) Whether to fix the variance of the first step to prevent overfitting

# params for the MLP
dims_dnn: [300]                 # (list of int) The dims for the DNN
embedding_size: 10              # (int) Timestep embedding size
mlp_act_func: 'tanh'            # (str) Activation function for MLP
time-aware: False               # (bool) T-DiffRec or not
w_max: 1                        # (int) The upper bound of the time-aware interaction weight
w_min: 0.1                      # (int) The lower bound of the time-aware interaction weight
"""


# ------------------------------------------------------------------ RecBole files

def test_recbole_diffrec_yaml_is_shipped_unchanged_and_loads():
    path = REPO_ROOT / "configs" / "DiffRec.yaml"
    text = path.read_text(encoding="utf-8")
    assert "time-aware:" in text and "'linear'" in text  # RecBole's spelling, not ours
    raw = yaml.safe_load(text)
    assert raw == RECBOLE_DIFFREC
    cfg = config_files.load(path)
    for key, value in RECBOLE_DIFFREC.items():
        assert cfg[key] == value, key
        assert type(cfg[key]) is type(config.defaults()[key]), key
    assert cfg["time-aware"] is False and cfg["reweight"] is True


def test_defaults_are_recboles_diffrec_defaults():
    d = config.defaults()
    for key, value in RECBOLE_DIFFREC.items():
        assert d[key] == value, key
    assert config.resolve({}) == d


def test_recbole_ldiffrec_yaml_loads_unchanged(tmp_path):
    path = tmp_path / "LDiffRec.yaml"
    path.write_text("model: LDiffRec\n" + RECBOLE_LDIFFREC_TEXT, encoding="utf-8")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg = config_files.load(path)
    assert cfg["model"] == "LDiffRec"
    for key, value in raw.items():
        assert cfg[key] == value, key
    assert cfg["out_dims"] == [] and cfg["in_dims"] == [300] and cfg["reparam"] is True
    assert cfg["vae_anneal_steps"] == 200 and isinstance(cfg["vae_anneal_steps"], int)


def test_every_field_is_documented():
    assert set(config.SCHEMA) == {f.name for f in config.FIELDS}
    for f in config.FIELDS:
        assert f.help.strip() and "\n" not in f.help, f.name
        assert f.group in config_fields.GROUPS, f.name
        if f.kind == "choice":
            assert f.default in f.choices, f.name


# ------------------------------------------------------------------ --set typing

@pytest.mark.parametrize("item, key, expected", [
    ("dims_dnn=[200,600]", "dims_dnn", [200, 600]),
    ("dims_dnn=[200, 600]", "dims_dnn", [200, 600]),
    ("dims_dnn=300", "dims_dnn", [300]),
    ("topk=[10,20]", "topk", [10, 20]),
    ("time-aware=true", "time-aware", True),
    ("reweight=False", "reweight", False),
    ("sampling_noise=yes", "sampling_noise", True),
    ("learning_rate=1e-3", "learning_rate", 0.001),
    ("noise_scale=5E-3", "noise_scale", 0.005),
    ("w_max=1", "w_max", 1.0),
    ("steps=40", "steps", 40),
    ("steps=4e1", "steps", 40),
    ("noise_schedule=LINEAR-VAR", "noise_schedule", "linear-var"),
    ("mean_type=EPS", "mean_type", "eps"),
    ("mlp_act_func=Tanh", "mlp_act_func", "tanh"),
    ("metrics=[recall,ndcg,hit]", "metrics", ["Recall", "NDCG", "Hit"]),
    ("order=to", "order", "TO"),
    ("rating_threshold=4", "rating_threshold", 4.0),
    ("rating_threshold=none", "rating_threshold", None),
    ("dataset=123", "dataset", "123"),
    ("valid_metric=NDCG@20", "valid_metric", "NDCG@20"),
    ("split=[0.7,0.2,0.1]", "split", [0.7, 0.2, 0.1]),
])
def test_set_is_typed_by_the_schema(item, key, expected):
    k, value = config_files.parse_override(item)
    assert k == key
    assert value == expected
    assert type(value) is type(expected)
    if isinstance(expected, list):
        assert [type(v) for v in value] == [type(v) for v in expected]


@pytest.mark.parametrize("item, names", [
    ("steps=abc", ["steps", "integer"]),
    ("steps=1.5", ["steps", "integer"]),
    ("reweight=maybe", ["reweight", "true or false"]),
    ("noise_schedule=quadratic", ["noise_schedule", "linear-var"]),
    ("dims_dnn=[200,x]", ["dims_dnn", "[200, 600]"]),
    ("dims_dnn=[0]", ["dims_dnn", ">= 1"]),
    ("learning_rate=nan", ["learning_rate", "finite"]),
    ("learning_rate=0", ["learning_rate", "> 0"]),
    ("steps", ["key=value"]),
    ("=5", ["key=value"]),
    ("metrics=[Recall,AUC]", ["metrics", "NDCG"]),
])
def test_set_rejects_bad_values_with_one_line(item, names):
    with pytest.raises(ConfigError) as err:
        config_files.parse_override(item)
    msg = str(err.value)
    assert "\n" not in msg
    for name in names:
        assert name in msg


def test_set_never_evaluates_the_text(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"dims_dnn=__import__('pathlib').Path({str(marker)!r}).touch()"
    with pytest.raises(ConfigError):
        config_files.parse_override(payload)
    with pytest.raises(ConfigError):
        config_files.parse_override("dims_dnn=!!python/object/apply:os.system ['true']")
    assert not marker.exists()


def test_load_applies_overrides_after_the_file(write_config):
    path = write_config({"steps": 10, "dims_dnn": [100]})
    cfg = config_files.load(path, ["dims_dnn=[200,600]", "steps=20"])
    assert cfg["dims_dnn"] == [200, 600] and cfg["steps"] == 20


# ------------------------------------------------------------------ unknown keys

def test_unknown_key_suggests_the_closest_known_key(write_config):
    with pytest.raises(ConfigError) as err:
        config.resolve({"noice_scale": 0.1})
    assert "noice_scale" in str(err.value) and "did you mean `noise_scale`" in str(err.value)
    with pytest.raises(ConfigError) as err:
        config_files.parse_override("noice_scale=0.1")
    assert "did you mean `noise_scale`" in str(err.value)
    with pytest.raises(ConfigError) as err:
        config_files.load(write_config({"learning_rte": 0.01}))
    assert "did you mean `learning_rate`" in str(err.value)
    [p] = config.problems({"noice_scale": 0.1})
    assert p.key == "noice_scale"


def test_unknown_key_without_a_close_match_suggests_nothing():
    with pytest.raises(ConfigError) as err:
        config.resolve({"zzqqxx": 1})
    assert "zzqqxx" in str(err.value) and "did you mean" not in str(err.value)


# ------------------------------------------------------------------ cross-field rules

@pytest.mark.parametrize("raw, key", [
    ({"noise_min": 0.01, "noise_max": 0.005}, "noise_min"),
    ({"noise_min": 0.005, "noise_max": 0.005}, "noise_min"),
    ({"steps": 5, "sampling_steps": 6}, "sampling_steps"),
    ({"steps": 0}, "steps"),
    ({"steps": -3}, "steps"),
    ({"train_batch_size": 0}, "train_batch_size"),
    ({"train_batch_size": -10}, "train_batch_size"),
    ({"eval_batch_size": -1}, "eval_batch_size"),
    ({"topk": [10, 20], "valid_metric": "NDCG@50"}, "valid_metric"),
    ({"valid_metric": "Hit@20"}, "valid_metric"),
    ({"valid_metric": "Recall20"}, "valid_metric"),
    ({"metrics": ["NDCG"], "valid_metric": "Recall@20"}, "valid_metric"),
    ({"w_min": 0.9, "w_max": 0.5}, "w_min"),
    ({"data_format": "csv"}, "data_path"),
    ({"split": [0.8, 0.2]}, "split"),
])
def test_cross_field_rules(raw, key):
    found = config.problems(raw)
    assert [p.key for p in found] == [key]
    assert "\n" not in found[0].message and key in found[0].message
    with pytest.raises(ConfigError) as err:
        config.resolve(raw)
    assert str(err.value) == found[0].message


@pytest.mark.parametrize("raw", [
    {"noise_min": 0.001, "noise_max": 0.002},
    {"steps": 5, "sampling_steps": 5},
    {"steps": 1},
    {"train_batch_size": 1, "eval_batch_size": 0},
    {"metrics": ["Recall", "Hit"], "valid_metric": "Hit@20"},
    {"valid_metric": "ndcg@100"},
    {"w_min": 0.5, "w_max": 0.5},
])
def test_cross_field_rules_accept_their_boundaries(raw):
    assert config.problems(raw) == []
    config.resolve(raw)


def test_problems_lists_every_problem_once():
    found = config.problems({"steps": "x", "noice_scale": 1, "w_min": 2.0, "w_max": 1.0})
    assert sorted(p.key for p in found) == ["noice_scale", "steps", "w_min"]


# ------------------------------------------------------------------ YAML

def test_yaml_round_trip(tmp_path, tiny_config):
    cfg = tiny_config(noise_schedule="cosine", learning_rate=3e-4, dims_dnn=[200, 600], time_aware=True,
                      rating_threshold=None, metrics=["Recall", "NDCG", "Hit"], valid_metric="Hit@10")
    path = tmp_path / "out.yaml"
    config_files.save(cfg, path)
    text = path.read_text(encoding="utf-8")
    assert "time-aware: true" in text
    assert set(yaml.safe_load(text)) == set(config.SCHEMA)
    back = config_files.load(path)
    assert back == cfg
    assert config_files.diff(cfg, back) == {}


def test_relative_data_path_is_resolved_against_the_current_directory(tmp_path, monkeypatch, write_config):
    path = write_config({"data_format": "csv", "data_path": "data/x.csv"})
    monkeypatch.chdir(tmp_path)
    cfg = config_files.load(path)
    assert cfg["data_path"] == str((tmp_path / "data" / "x.csv").resolve())


def test_diff_names_changed_keys(tiny_config):
    a, b = tiny_config(), tiny_config(steps=40, noise_schedule="binomial")
    assert config_files.diff(a, b) == {"steps": (a["steps"], 40), "noise_schedule": ("linear", "binomial")}


@pytest.mark.parametrize("text, words", [
    ("steps: [1,\n", ["line", "YAML"]),
    ("- a\n- b\n", ["mapping"]),
])
def test_bad_yaml_files(tmp_path, text, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        config_files.load(path)
    assert str(path) in str(err.value)
    for w in words:
        assert w in str(err.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        config_files.load(tmp_path / "nope.yaml")


def test_empty_yaml_gives_defaults(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing\n", encoding="utf-8")
    assert config_files.load(path) == config.defaults()


# ------------------------------------------------------------------ RecBole eval_args

def test_recbole_eval_args_map_to_split_and_order(tmp_path):
    path = tmp_path / "recbole.yaml"
    path.write_text(
        "eval_args:\n  split: {'RS': [0.7, 0.2, 0.1]}\n  group_by: user\n  order: RO\n  mode: full\n",
        encoding="utf-8")
    cfg = config_files.load(path)
    assert cfg["split"] == [0.7, 0.2, 0.1]
    assert cfg["order"] == "RO"


def test_explicit_split_and_order_win_over_eval_args():
    cfg = config.resolve({"eval_args": {"split": {"RS": [0.7, 0.2, 0.1]}, "order": "RO"},
                          "split": [0.6, 0.2, 0.2], "order": "TO"})
    assert cfg["split"] == [0.6, 0.2, 0.2] and cfg["order"] == "TO"


def test_eval_args_values_are_validated():
    found = config.problems({"eval_args": {"split": {"RS": [0.8, 0.2]}, "order": "XO"}})
    assert {p.key for p in found} >= {"order"}


def test_default_order_is_chronological():
    assert config.defaults()["order"] == "TO"


@pytest.mark.parametrize("name, expected", [
    ("Recall@20", ("recall", 20)), ("ndcg@10", ("ndcg", 10)), ("MRR@5", ("mrr", 5)),
    ("Recall", None), ("Recall@x", None), (None, None),
])
def test_parse_metric(name, expected):
    assert config_fields.parse_metric(name) == expected


def test_malformed_list_text_is_a_config_error_not_a_yaml_traceback():
    import pytest
    from engine.config import schema as config
    from engine.errors import ConfigError
    with pytest.raises(ConfigError, match="dims_dnn"):
        config.resolve({"dims_dnn": "[1,"})


def test_one_list_reader_for_set_and_the_form():
    # `--set dims_dnn=200,600` reads as the form's '200, 600' does (one parser, engine.config.coerce)
    from engine.config import files as config_files
    assert config_files.parse_override("dims_dnn=200,600") == ("dims_dnn", [200, 600])
    assert config_files.parse_override("dims_dnn=[200, 600]") == ("dims_dnn", [200, 600])
    assert config_files.parse_override("metrics=Recall, NDCG") == ("metrics", ["Recall", "NDCG"])


def test_no_recbole_ignored_key_is_a_schema_key():
    # recbole_keys.is_ignored relies on it: an honoured key is never dropped as RecBole-only
    from engine.config import recbole_keys, schema
    assert not set(recbole_keys.IGNORED) & set(schema.SCHEMA)
