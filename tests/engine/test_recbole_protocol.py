"""Issue 18: RecBole's split rule, held-out items unseen in training kept as targets, the two
dims_dnn layouts, and RecBole's early-stopping rule."""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.models import registry as methods
from engine.data import loaders as data
from engine.data import dataset
from engine.training import trainer
from engine.config import schema as config
from engine.config import files as config_files
from engine.data.splits import _recbole_counts, _ratio_counts
from engine.data.dataset import build
from engine.config.dims import layer_sizes, sizes_text
from engine.models.denoiser import Denoiser
from engine.training.stopping import StoppingRule

ROOT = Path(__file__).resolve().parents[2]


def recbole_calcu_split_ids(tot: int, ratios: list[float]) -> list[int]:
    """RecBole 1.2.1's Dataset._calcu_split_ids and split_by_ratio's normalisation, line by
    line (recbole/data/dataset/dataset.py), returning the part sizes."""
    tot_ratio = sum(ratios)
    ratios = [_ / tot_ratio for _ in ratios]
    cnt = [int(ratios[i] * tot) for i in range(len(ratios))]
    cnt[0] = tot - sum(cnt[1:])
    for i in range(1, len(ratios)):
        if cnt[0] <= 1:
            break
        if 0 < ratios[-i] * tot < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return cnt


# ------------------------------------------------------------------ the split rule

@pytest.mark.parametrize("ratios", [[0.8, 0.1, 0.1], [0.7, 0.2, 0.1], [0.6, 0.2, 0.2], [0.9, 0.0, 0.1],
                                    [1, 1, 1], [8, 1, 1], [0.5, 0.3, 0.2]])
def test_recbole_counts_equal_recboles_own_rule_per_user(ratios):
    count = np.arange(1, 301)
    n_valid, n_test, short = _recbole_counts(count, ratios)
    expected = np.array([recbole_calcu_split_ids(int(n), ratios) for n in count])
    got = np.stack([count - n_valid - n_test, n_valid, n_test], axis=1)
    assert (got == expected).all()
    assert (short == (n_valid + n_test == 0)).all()


def test_recbole_counts_of_short_users_and_the_rounding_that_differs():
    """1: all train; 2: train 1, test 1 (test first); 3: one each; 15: floored (1.5 -> 1),
    where rounding to nearest holds out 2."""
    count = np.array([1, 2, 3, 10, 15, 19])
    n_valid, n_test, _ = _recbole_counts(count, [0.8, 0.1, 0.1])
    assert list(zip(count - n_valid - n_test, n_valid, n_test)) == [(1, 0, 0), (1, 0, 1), (1, 1, 1), (8, 1, 1),
                                                                   (13, 1, 1), (17, 1, 1)]
    nv, nt, short = _ratio_counts(count, [0.8, 0.1, 0.1])
    assert list(zip(nv, nt)) == [(0, 0), (0, 0), (1, 1), (1, 1), (2, 2), (2, 2)] and short[:2].all()


def ml100k_config(folder, **raw) -> dict:
    return config_files.absolute_paths(config.resolve({"data_path": str(folder), "dataset": "ml-100k", **raw}))


def test_ml100k_split_counts_equal_recboles(shared_dataset, recbole_files, tmp_path):
    """RecBole 1.2.1 splits ml-100k (RS 0.8/0.1/0.1) into 80,808 / 9,596 / 9,596; its own
    files get that rule by default, and our rule stays available."""
    folder = tmp_path / "dataset"
    shutil.copytree(shared_dataset("ml-100k"), folder / "ml-100k")
    text = "".join((recbole_files / f).read_text() for f in ("overall.yaml", "DiffRec.yaml"))
    path = tmp_path / "recbole.yaml"
    path.write_text(text)
    cfg = config_files.load(path, [f"data_path={folder}/", "dataset=ml-100k"])
    assert cfg["split_rule"] == "recbole" and cfg["order"] == "RO"
    s = data.load(cfg).stats
    assert (s["n_train"], s["n_valid"], s["n_test"]) == (80808, 9596, 9596)
    assert s["unseen_targets"] > 0 and s["unseen_dropped"] == 0 and s["split"] == "recbole 0.8/0.1/0.1 RO"
    for order in ("RO", "TO"):  # the counts do not depend on the order
        s = data.load(ml100k_config(folder, split_rule="recbole", order=order)).stats
        assert (s["n_train"], s["n_valid"], s["n_test"]) == (80808, 9596, 9596)
    s = data.load(ml100k_config(folder, order="RO")).stats  # our rule, still the default without eval_args
    assert (s["n_train"], s["n_valid"], s["n_test"]) == (80024, 9988, 9988)


def test_papers_npy_splits_hold_no_unseen_targets(shared_dataset):
    for name in ("ml-1m_clean", "ml-1m_noisy"):
        cfg = config.resolve({"data_path": str(shared_dataset(name)), "dataset": name})
        s = data.load(cfg).stats
        assert s["unseen_targets"] == 0 and s["split"] == "files"


def test_eval_args_choose_recboles_rule_unless_the_config_sets_one():
    ea = {"split": {"RS": [0.8, 0.1, 0.1]}, "order": "RO", "group_by": "user", "mode": "full"}
    assert config.resolve({"eval_args": ea})["split_rule"] == "recbole"
    assert config.resolve({"eval_args": ea, "split_rule": "nearest"})["split_rule"] == "nearest"
    assert config.resolve({})["split_rule"] == "nearest"
    resolved = config.resolve({"eval_args": ea, "split_rule": "nearest"})
    assert config.resolve(resolved)["split_rule"] == "nearest"  # a run's config.yaml reads back the same


# ------------------------------------------------------------------ unseen targets

def unseen_case(drop: bool) -> dataset.Dataset:
    """5 items, item 4 never trained on. User 0 trains on 0, 1 and holds out 2 and 4 for
    test; users 1-3 make item 2 the most popular and item 3 the next."""
    train_u = np.array([0, 0, 1, 1, 2, 2, 3])
    train_i = np.array([0, 1, 2, 3, 2, 3, 2])
    valid = (np.array([1, 2]), np.array([0, 0]))
    test = (np.array([0, 0, 3]), np.array([2, 4, 3]))
    return build("hand", 4, 5, (train_u, train_i), valid, test, drop_unseen=drop)


@pytest.mark.parametrize("drop", [False, True])
def test_unseen_targets_count_as_misses(drop):
    ds = unseen_case(drop)
    assert ds.stats["unseen_targets"] == 1 and ds.stats["unseen_dropped"] == (1 if drop else 0)
    assert ds.test[0].indices.tolist() == ([2] if drop else [2, 4])
    cfg = config.resolve({"model": "Pop", "topk": [2], "metrics": ["Recall", "NDCG", "Hit"], "valid_metric": "Recall@2",
                          "drop_unseen_targets": drop, "device": "cpu"})
    device = torch.device("cpu")
    method = methods.build(cfg, ds, device)
    method.fit(ds.train_matrix())
    _, test = trainer.evaluate(method, cfg, ds, ds.train_matrix(), device, users=np.array([0]))
    # Pop ranks 2, then 3 (0 and 1 are user 0's history): item 2 is hit; item 4, which no
    # model learnt, is a miss when kept.
    assert test["recall@2"] == pytest.approx(0.5 if not drop else 1.0)
    assert test["ndcg@2"] == pytest.approx(1.0 / (1.0 + 1.0 / math.log2(3)) if not drop else 1.0)
    assert test["hit@2"] == 1.0


# ------------------------------------------------------------------ the dims_dnn layouts

def linear_shapes(m: Denoiser) -> list[tuple[int, int]]:
    return [(x.in_features, x.out_features) for x in [*m.encoder, *m.decoder]]


def test_both_layouts_build_the_named_networks():
    assert layer_sizes(2810, [200, 600], "mirrored") == [2810, 600, 200, 600, 2810]
    assert layer_sizes(2810, [200, 600], "recbole") == [2810, 200, 600, 2810]
    assert linear_shapes(Denoiser(2810, [200, 600], emb_size=10, layout="mirrored")) == [
        (2820, 600), (600, 200), (200, 600), (600, 2810)]
    assert linear_shapes(Denoiser(2810, [200, 600], emb_size=10, layout="recbole")) == [
        (2820, 200), (200, 600), (600, 2810)]
    one = [linear_shapes(Denoiser(50, [30], emb_size=4, layout=lay)) for lay in ("mirrored", "recbole")]
    assert one[0] == one[1] == [(54, 30), (30, 50)]  # one hidden size: the same network
    assert sizes_text([200, 600], "recbole") == "n -> 200 -> 600 -> n"
    with pytest.raises(ValueError):
        layer_sizes(10, [5], "upside-down")


def test_models_build_the_configs_layout(tiny_config):
    ds = data.load(tiny_config())
    for layout, shapes in (("mirrored", [(210, 60), (60, 30), (30, 60), (60, 200)]),
                           ("recbole", [(210, 30), (30, 60), (60, 200)])):
        cfg = tiny_config(dims_dnn=[30, 60], embedding_size=10, dims_dnn_layout=layout)
        assert linear_shapes(methods.build(cfg, ds, torch.device("cpu")).module) == shapes


def test_recboles_files_get_recboles_layout_and_say_so(recbole_files, tmp_path):
    text = "".join((recbole_files / f).read_text() for f in ("overall.yaml", "DiffRec.yaml"))
    path = tmp_path / "recbole.yaml"
    path.write_text(text)
    cfg, note = config_files.load_with_note(path, ["dims_dnn=[200,600]"])
    assert cfg["dims_dnn_layout"] == "recbole"
    line = next(n for n in note.splitlines() if "dims_dnn" in n)
    assert "items -> 200 -> 600 -> items" in line and "dims_dnn_layout: recbole" in line
    assert "items -> 600 -> 200 -> 600 -> items" in line  # what the authors' layout would build
    cfg, note = config_files.load_with_note(path, ["dims_dnn=[200,600]", "dims_dnn_layout=mirrored"])
    assert cfg["dims_dnn_layout"] == "mirrored" and "dims_dnn" not in note  # set explicitly: no note


def test_bare_model_file_keeps_the_authors_layout_and_a_multi_layer_one_is_noted(recbole_files, write_config):
    cfg, note = config_files.load_with_note(recbole_files / "DiffRec.yaml")  # nothing tells it from ours
    assert cfg["dims_dnn_layout"] == "mirrored" and note is None  # [300]: the same network anyway
    cfg, note = config_files.load_with_note(recbole_files / "DiffRec.yaml", ["dims_dnn=[200,600]"])
    assert cfg["dims_dnn_layout"] == "mirrored"
    assert "items -> 600 -> 200 -> 600 -> items" in note and "set dims_dnn_layout: recbole" in note


def test_papers_configs_keep_the_authors_layout():
    for name in ("ml-1m_clean.yaml", "ml-1m_noisy.yaml"):
        cfg, note = config_files.load_with_note(ROOT / "configs" / name)
        assert cfg["dims_dnn"] == [200, 600] and cfg["dims_dnn_layout"] == "mirrored" and note is None
        assert cfg["split_rule"] == "nearest" and cfg["stopping_rule"] == "exact"


# ------------------------------------------------------------------ the stopping rule

def test_exact_rule_needs_a_strictly_better_value():
    rule = StoppingRule("exact", patience=2)
    best = rule.score(0.12345)
    assert rule.improves(rule.score(0.12346), best)
    assert not rule.improves(rule.score(0.12345), best)  # a tie is no improvement
    assert not rule.exhausted(1) and rule.exhausted(2)


def test_recbole_rule_rounds_to_4_places_and_a_tie_improves():
    rule = StoppingRule("recbole", patience=2)
    best = rule.score(0.12346)  # 0.1235
    assert rule.improves(rule.score(0.12349), best)  # 0.1235 ties: better, as RecBole's `value >= best`
    assert not rule.improves(rule.score(0.12344), best)  # 0.1234
    assert rule.score(0.12344) == 0.1234
    assert not rule.exhausted(2) and rule.exhausted(3)  # RecBole: cur_step > stopping_step
    assert not rule.improves(rule.score(None), -math.inf)
    lower = StoppingRule("recbole", patience=2, bigger=False)  # valid_metric_bigger: false
    assert lower.improves(lower.score(0.50001), lower.score(0.5)) and not lower.improves(lower.score(0.6), lower.score(0.5))


@pytest.mark.parametrize("rule, epochs_run, best_epoch", [("exact", 3, 1), ("recbole", 8, 8)])
def test_trainer_stops_by_the_configured_rule(tiny_config, monkeypatch, rule, epochs_run, best_epoch):
    """Every evaluation scores the same: the exact rule stops after stopping_step evaluations;
    under RecBole's every tie is an improvement, so it trains on and keeps the newest model."""
    same = {"recall@20": 0.25, "ndcg@20": 0.1, "recall@10": 0.2, "ndcg@10": 0.08}
    monkeypatch.setattr(trainer, "evaluate", lambda *a, **k: (dict(same), dict(same)))
    cfg = tiny_config(epochs=8, eval_step=1, stopping_step=2, stopping_rule=rule)
    events = list(trainer.fit(cfg, data.load(cfg)))
    end = events[-1]
    assert (end["epochs_run"], end["best_epoch"]) == (epochs_run, best_epoch)
    assert end["split"]["n_train"] > 0 and "unseen_targets" in end["split"]
