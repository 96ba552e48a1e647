"""Baselines (Pop, ItemKNN, EASE, MultiVAE): closed forms against direct computations,
the shared evaluation masking, checkpoints, config keys, and MultiVAE learning."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from engine.models import baselines
from engine.models import registry as methods
from engine.data import loaders as data
from engine.training import metrics
from engine.training import trainer
from engine.training import evaluation
from engine.config import schema as config
from engine.config import files as config_files
from engine.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
CPU = torch.device("cpu")

TINY = {"dataset": "tiny", "data_format": "synthetic", "synthetic_users": 300, "synthetic_items": 120,
        "synthetic_interactions": 20, "synthetic_clusters": 6, "topk": [10, 20], "device": "cpu",
        "threads": 1, "seed": 3}


def tiny(**over) -> dict:
    return config.resolve({**TINY, **over})


def csr(rows: list[list[int]], n_items: int) -> sp.csr_matrix:
    """Binary users x items matrix from each user's item list."""
    u = [i for i, items in enumerate(rows) for _ in items]
    it = [j for items in rows for j in items]
    return sp.csr_matrix((np.ones(len(u), dtype=np.float32), (u, it)), shape=(len(rows), n_items))


def dense(m: sp.csr_matrix) -> torch.Tensor:
    return torch.from_numpy(m.toarray())


@pytest.fixture(scope="module")
def tiny_ds():
    return data.load(tiny())


# ---------------------------------------------------------------- config keys

def test_baseline_models_and_recbole_keys_are_in_the_schema():
    choices = config.SCHEMA["model"].choices
    assert {"Pop", "ItemKNN", "EASE", "MultiVAE"} <= set(choices)
    knn, ease, vae = tiny(model="ItemKNN"), tiny(model="EASE"), tiny(model="MultiVAE")
    assert (knn["k"], knn["shrink"]) == (100, 0.0)
    assert ease["reg_weight"] == 250.0 and ease["ease_max_items"] == 20000
    assert (vae["mlp_hidden_size"], vae["latent_dimension"], vae["dropout_prob"], vae["total_anneal_steps"]) == \
        ([600], 128, 0.5, 200000)
    assert config.applies(config.SCHEMA["k"], "ItemKNN") and not config.applies(config.SCHEMA["k"], "DiffRec")
    # The shared key applies to both models that read it, and is listed once.
    assert config.applies(config.SCHEMA["anneal_cap"], "MultiVAE")
    assert config.applies(config.SCHEMA["anneal_cap"], "LDiffRec")
    assert [f.name for f in config.FIELDS].count("anneal_cap") == 1
    assert set(config.SCHEMA) == {f.name for f in config.FIELDS}


def test_bad_baseline_values_name_the_key():
    with pytest.raises(ConfigError, match="reg_weight"):
        tiny(model="EASE", reg_weight=0)
    with pytest.raises(ConfigError, match="`k`"):
        tiny(model="ItemKNN", k=0)


def test_baseline_keys_load_without_torch():
    code = "import sys; from engine.config import schema as config; assert 'EASE' in config.SCHEMA['model'].choices; " \
           "print('torch' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"


def test_model_switch_by_set_on_the_diffrec_config(tiny_ds):
    # ml-1m_clean.yaml is full of diffusion keys (steps 40, noise ...); EASE ignores them.
    cfg = config_files.load(REPO_ROOT / "configs" / "ml-1m_clean.yaml",
                      ["model=EASE", "reg_weight=500", "threads=1", "device=cpu"])
    assert cfg["model"] == "EASE" and cfg["reg_weight"] == 500.0 and cfg["steps"] == 40
    events = list(trainer.fit(cfg, tiny_ds))
    assert [e["type"] for e in events] == ["started", "eval", "checkpoint", "finished"]
    assert events[1]["test"]["recall@20"] > 0


# ---------------------------------------------------------------- EASE

def test_ease_matches_a_direct_solve():
    rng = np.random.default_rng(0)
    x = (rng.random((40, 9)) < 0.3).astype(np.float64)
    lam = 7.0
    p = np.linalg.inv(x.T @ x + lam * np.eye(9))
    expected = np.eye(9) - p / np.diag(p)[None, :]  # B = I - P diag(P)^-1
    got = baselines.ease_weights(sp.csr_matrix(x), lam, CPU).numpy()
    assert np.allclose(np.diag(got), 0.0)
    assert np.allclose(got, expected, atol=1e-5)

    method = baselines.EASE(tiny(model="EASE", reg_weight=lam), 9, CPU)
    method.fit(sp.csr_matrix(x))
    xt = torch.from_numpy(x[:5]).float()
    assert torch.allclose(method.predict(xt), xt @ torch.from_numpy(expected).float(), atol=1e-5)


def test_ease_refuses_more_items_than_its_limit(tiny_ds):
    cfg = tiny(model="EASE", ease_max_items=100)
    with pytest.raises(ConfigError) as err:
        methods.build(cfg, tiny_ds, CPU)
    msg = str(err.value)
    assert "ease_max_items" in msg and "120 items" in msg and "\n" not in msg


# ---------------------------------------------------------------- ItemKNN

# Items' users: i0 {u0,u1,u3}, i1 {u0,u1,u2}, i2 {u1,u2}, i3 {u3}.
KNN_ROWS = [[0, 1], [0, 1, 2], [1, 2], [3, 0]]


def hand_similarity(shrink: float) -> np.ndarray:
    """Cosine with shrink from the co-occurrence counts above, written out by hand."""
    s = np.zeros((4, 4))
    for (i, j), (common, ni, nj) in {(0, 1): (2, 3, 3), (0, 2): (1, 3, 2), (0, 3): (1, 3, 1),
                                     (1, 2): (2, 3, 2), (1, 3): (0, 3, 1), (2, 3): (0, 2, 1)}.items():
        s[i, j] = s[j, i] = common / (math.sqrt(ni) * math.sqrt(nj) + shrink)
    return s


@pytest.mark.parametrize("shrink", [0.0, 1.0])
def test_itemknn_similarity_matches_a_hand_computation(shrink):
    nb, sim = baselines.cosine_topk(csr(KNN_ROWS, 4), k=2, shrink=shrink)
    hand = hand_similarity(shrink)
    assert nb.shape == sim.shape == (4, 2)
    for i in range(4):
        order = sorted((j for j in range(4) if j != i), key=lambda j: -hand[i, j])
        assert np.allclose(sim[i], [hand[i, order[0]], hand[i, order[1]]], atol=1e-6)
        assert nb[i, 0] == order[0] and i not in nb[i]  # the best neighbour; never itself
    assert list(nb[0]) == [1, 3] and list(nb[1]) == [2, 0]


@pytest.mark.parametrize("dense_budget", [baselines.DENSE_WEIGHTS_BUDGET, 0])  # dense and sparse weights
def test_itemknn_scores_sum_the_neighbours_similarities(monkeypatch, dense_budget):
    monkeypatch.setattr(baselines, "DENSE_WEIGHTS_BUDGET", dense_budget)
    train = csr(KNN_ROWS, 4)
    method = baselines.ItemKNN(tiny(model="ItemKNN", k=2), 4, CPU)
    method.fit(train)
    hand = hand_similarity(0.0)
    scores = method.predict(dense(train))
    # user 2 has items {1, 2}; item i scores the similarity of its neighbours among them
    nb = {0: [1, 3], 1: [2, 0], 2: [1, 0]}
    for i, neigh in nb.items():
        expected = sum(hand[i, j] for j in neigh if j in (1, 2))
        assert scores[2, i].item() == pytest.approx(expected, abs=1e-6)


def test_itemknn_block_size_does_not_change_the_neighbours(tiny_ds):
    train = tiny_ds.train_matrix()
    nb1, s1 = baselines.cosine_topk(train, 10, 2.0)
    nb2, s2 = baselines.cosine_topk(train, 10, 2.0, block=7)
    assert np.allclose(s1, s2, atol=1e-6)
    assert (nb1 == nb2).mean() > 0.99  # ties may order differently


# ---------------------------------------------------------------- Pop

def test_pop_never_recommends_history_items(tiny_ds):
    cfg = tiny(model="Pop")
    method = methods.build(cfg, tiny_ds, CPU)
    train = tiny_ds.train_matrix()
    method.fit(train)
    counts = np.asarray(train.sum(0)).ravel()
    users = np.arange(tiny_ds.n_users)
    scores = evaluation.score_users(method, train, users, CPU, "float32")
    assert torch.equal(scores[0], torch.from_numpy(counts).float())  # the same popularity for everyone
    unmasked = torch.topk(scores, 20).indices
    history = metrics.dense_bool(train, CPU)
    assert history.gather(1, unmasked).any()  # without masking, popular history items would come first
    metrics.mask_(scores, train)  # what evaluation does before ranking
    top = torch.topk(scores, 20).indices
    assert not history.gather(1, top).any()
    # and what is left is ranked by popularity
    assert (np.diff(counts[top[0].numpy()]) <= 0).all()


# ---------------------------------------------------------------- checkpoints

@pytest.mark.parametrize("model", ["Pop", "ItemKNN", "EASE"])
def test_closed_form_models_emit_one_eval_and_checkpoint_their_buffers(tmp_path, tiny_ds, model):
    cfg = tiny(model=model, k=15)
    events = list(trainer.fit(cfg, tiny_ds, run_dir=tmp_path))
    assert [e["type"] for e in events] == ["started", "eval", "checkpoint", "finished"]
    assert events[-1]["epochs_run"] == 1
    ckpt = trainer.load_checkpoint(tmp_path / "checkpoint.pt")
    fresh = methods.build(ckpt["config"], tiny_ds, CPU)
    fresh.module.load_state_dict(ckpt["state_dict"])
    valid, test = trainer.evaluate(fresh, cfg, tiny_ds, tiny_ds.train_matrix(), CPU)
    assert valid == pytest.approx(events[1]["valid"]) and test == pytest.approx(events[1]["test"])


# ---------------------------------------------------------------- MultiVAE

def test_multivae_anneals_the_kl_weight_by_update_count_and_resumes_it(tiny_ds):
    cfg = tiny(model="MultiVAE", anneal_cap=0.5, total_anneal_steps=4, mlp_hidden_size=[16], latent_dimension=8)
    m = methods.build(cfg, tiny_ds, CPU)
    x = dense(tiny_ds.train_matrix()[:32])
    weights = []
    for _ in range(4):
        weights.append(m.kl_weight())
        assert math.isfinite(m.train_batch(x))
    assert weights == [0.0, 0.25, 0.5, 0.5]
    again = methods.build(cfg, tiny_ds, CPU)
    again.load_extra_state(m.extra_state())
    assert again.kl_weight() == 0.5
    assert methods.build({**cfg, "total_anneal_steps": 0}, tiny_ds, CPU).kl_weight() == 0.5


def test_multivae_odd_latent_dimension_is_a_config_error(tiny_ds):
    with pytest.raises(ConfigError, match="latent_dimension"):
        methods.build(tiny(model="MultiVAE", latent_dimension=7), tiny_ds, CPU)


def test_multivae_beats_pop_on_synthetic_data():
    base = dict(TINY, synthetic_users=1000, synthetic_items=300, synthetic_interactions=40,
                synthetic_clusters=20, train_batch_size=100, epochs=15, eval_step=5, stopping_step=10,
                mlp_hidden_size=[200], latent_dimension=64, anneal_cap=0.2)
    ds = data.load(tiny(**base))
    best = {}
    for model in ("Pop", "MultiVAE"):
        *_, last = trainer.fit(tiny(**{**base, "model": model}), ds)
        assert last["type"] == "finished"
        best[model] = last["test"]["recall@20"]
    assert best["MultiVAE"] > best["Pop"] + 0.03, best


@pytest.mark.parametrize("name", ["pop", "itemknn", "ease", "multivae"])
def test_shipped_baseline_configs_load(name):
    expected = {"pop": "Pop", "itemknn": "ItemKNN", "ease": "EASE", "multivae": "MultiVAE"}[name]
    for path in (REPO_ROOT / "configs" / f"{name}.yaml", REPO_ROOT / "configs" / f"{name}_ml-1m_clean.yaml"):
        cfg = config_files.load(path)
        assert cfg["model"] == expected, path
        if expected == "MultiVAE":
            assert cfg["anneal_cap"] == 0.2  # RecBole's MultiVAE value, not L-DiffRec's default


def test_every_model_in_the_schema_has_a_factory():
    # one explicit table (engine.models.registry.MODELS), no import-time registration
    from engine.config.schema import SCHEMA
    from engine.models import registry
    assert list(registry.MODELS) == list(SCHEMA["model"].choices)
