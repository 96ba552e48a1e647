"""L-DiffRec / LT-DiffRec: item clustering, the cluster-ordered autoencoder and its way back
to item ids, the annealed loss, reparam off, time weights, checkpoints, and the n_cate
misconfiguration through the CLI. Everything runs on tiny synthetic data."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import yaml

from engine.models import clustering
from engine.models import ldiffrec
from engine.data import loaders as data
from engine.data import dataset
from engine.training import trainer
from engine.training import evaluation
from engine.config import schema as config
from engine.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]

TINY = {
    "model": "LDiffRec", "dataset": "tiny", "data_format": "synthetic",
    "synthetic_users": 300, "synthetic_items": 200, "synthetic_interactions": 20, "synthetic_clusters": 5,
    "n_cate": 3, "in_dims": [24], "dims_dnn": [32], "steps": 5, "noise_schedule": "linear-var",
    "noise_scale": 0.005, "noise_min": 0.005, "noise_max": 0.02,
    "ae_learning_rate": 0.001, "mlp_learning_rate": 0.0005, "train_batch_size": 100,
    "epochs": 4, "eval_step": 2, "stopping_step": 10, "topk": [10, 20], "valid_metric": "Recall@20",
    "device": "cpu", "threads": 1, "seed": 7,
}


def tiny(**overrides) -> dict:
    return config.resolve({**TINY, **overrides})


@pytest.fixture(scope="module")
def ds():
    return data.load(tiny())


def method_for(ds, labels=None, seed=0, **overrides) -> ldiffrec.LDiffRec:
    torch.manual_seed(seed)
    return ldiffrec.LDiffRec(tiny(**overrides), ds, torch.device("cpu"), labels=labels)


def linears(seq) -> list[torch.nn.Linear]:
    return [m for m in seq if isinstance(m, torch.nn.Linear)]


def rows(ds, n=16, time_aware=False) -> torch.Tensor:
    return evaluation.dense_rows(ds.train_matrix(time_aware), np.arange(n), torch.device("cpu"))


# ------------------------------------------------------------------ clustering

def test_kmeans_is_deterministic_for_a_seed_and_puts_every_item_in_one_cluster():
    emb = np.random.default_rng(0).standard_normal((200, 8))
    a, b = clustering.kmeans(emb, 5, seed=3), clustering.kmeans(emb, 5, seed=3)
    assert np.array_equal(a, b)
    assert a.shape == (200,) and set(a.tolist()) == set(range(5))
    order, sizes = clustering.cluster_order(a, 5)
    assert sorted(order.tolist()) == list(range(200))  # a permutation: each item exactly once
    assert sizes == np.bincount(a).tolist() and min(sizes) >= 1
    firsts = [int(np.flatnonzero(a == c)[0]) for c in range(5)]
    assert firsts == sorted(firsts)  # clusters numbered by their smallest item id


def test_kmeans_recovers_well_separated_groups():
    rng = np.random.default_rng(1)
    truth = rng.permutation(np.repeat(np.arange(3), [50, 30, 20]))
    emb = np.eye(3)[truth] * 10 + rng.standard_normal((100, 3)) * 0.1
    labels = clustering.kmeans(emb, 3, seed=0)
    for g in range(3):
        assert len(set(labels[truth == g].tolist())) == 1
    assert len(set(labels.tolist())) == 3


@pytest.mark.parametrize("emb,k", [(np.zeros((6, 4)), 6), (np.repeat(np.eye(2), [40, 2], axis=0), 5)])
def test_kmeans_never_leaves_a_cluster_empty(emb, k):
    labels = clustering.kmeans(emb, k, seed=0)
    assert np.bincount(labels, minlength=k).min() >= 1 and labels.max() == k - 1


def test_svd_embeddings_are_deterministic_and_separate_user_communities():
    # Two communities of 50 users x 20 items, a hub item 40 everybody uses, item 41 unused.
    users = np.r_[np.repeat(np.arange(50), 20), np.repeat(np.arange(50, 100), 20), np.arange(100)]
    items = np.r_[np.tile(np.arange(20), 50), np.tile(np.arange(20, 40), 50), np.full(100, 40)]
    m = sp.csr_matrix((np.ones(len(users)), (users, items)), shape=(100, 42))
    emb = clustering.svd_embeddings(m, dim=8, seed=5)
    assert emb.shape == (42, 8) and np.array_equal(emb, clustering.svd_embeddings(m, dim=8, seed=5))
    assert np.allclose(np.linalg.norm(emb[:41], axis=1), 1.0) and not emb[41].any()
    labels = clustering.kmeans(emb, 2, seed=0)
    assert np.array_equal(labels[:40], np.repeat([0, 1], 20))  # by community, not by popularity


def test_svd_clusters_follow_communities_not_popularity():
    """Two user communities, Zipf popularity inside each: clusters are the communities
    (raw U*S rows would put the two most popular items together against the rest)."""
    rng = np.random.default_rng(0)
    per, n_users = 20, 400
    p = 1.0 / np.arange(1, per + 1) ** 1.5
    hits = rng.random((n_users, per)) < p
    users, cols = np.nonzero(hits)
    items = cols + np.where(users < n_users // 2, 0, per)
    m = sp.csr_matrix((np.ones(len(users)), (users, items)), shape=(n_users, 2 * per))
    emb = clustering.svd_embeddings(m, dim=8, seed=5)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0)
    assert np.array_equal(clustering.kmeans(emb, 2, seed=0), np.repeat([0, 1], per))


def test_item_emb_sources(ds, tmp_path):
    train = ds.train_matrix()
    ds_with = dataset.Dataset(**{**ds.__dict__, "item_emb": np.random.default_rng(0).standard_normal((200, 6))})
    assert clustering.item_embeddings("auto", ds, train, 0)[1] == "svd64"  # no item_emb.npy: SVD
    emb, source = clustering.item_embeddings("auto", ds_with, train, 0)
    assert source == "item_emb.npy" and emb is ds_with.item_emb
    assert clustering.item_embeddings("svd", ds_with, train, 0)[1] == "svd64"
    f = tmp_path / "mine.npy"
    np.save(f, np.ones((200, 3), dtype=np.float32))
    assert clustering.item_embeddings(str(f), ds, train, 0)[0].shape == (200, 3)
    np.save(f, np.ones((199, 3), dtype=np.float32))
    with pytest.raises(ConfigError, match=r"item_emb .*expected shape \(200, d\)"):
        clustering.item_embeddings(str(f), ds, train, 0)
    with pytest.raises(ConfigError, match="item_emb .*not found"):
        clustering.item_embeddings(str(tmp_path / "missing.npy"), ds, train, 0)


# ------------------------------------------------------------------ the autoencoder

def test_apportion_shares_latent_units_by_cluster_size():
    assert ldiffrec.apportion(300, [1500, 1310]) == [160, 140]
    assert ldiffrec.apportion(3, [1000, 1, 1]) == [1, 1, 1]
    shares = ldiffrec.apportion(100, [70, 20, 7, 3])
    assert sum(shares) == 100 and min(shares) >= 1 and shares == sorted(shares, reverse=True)


def test_latent_layout_follows_in_dims_and_clusters(ds):
    labels = np.repeat([0, 1, 2], [100, 60, 40])
    m = method_for(ds, labels, in_dims=[20, 50], out_dims=[30])
    ae = m.module.autoencoder
    assert ae.cluster_sizes == [100, 60, 40] and sum(ae.latent_dims) == 20  # in_dims[0] is the latent
    assert [linears(e)[0].out_features for e in ae.encoders] == ldiffrec.apportion(50, [100, 60, 40])
    assert [linears(e)[-1].out_features for e in ae.encoders] == [2 * d for d in ae.latent_dims]  # mean, log-var
    assert [linears(d)[-1].out_features for d in ae.decoders] == [100, 60, 40]  # one decoder per cluster
    assert [len(linears(d)) for d in ae.decoders] == [2, 2, 2]  # through a share of out_dims
    assert m.info() == {"clusters": [100, 60, 40], "latent_dims": ae.latent_dims, "item_emb": "given"}


def test_decoder_output_is_put_back_in_item_id_order(ds):
    labels = np.random.default_rng(2).integers(0, 3, 200)
    m = method_for(ds, labels)
    ae = m.module.autoencoder
    assert not torch.equal(ae.order, torch.arange(200))
    with torch.no_grad():  # score of cluster position j = the id of the item placed there
        ae.decoders[0][-1].weight.zero_()
        ae.decoders[0][-1].bias.copy_(ae.order.float())
    scores = m.predict(rows(ds))
    assert torch.equal(scores, torch.arange(200.0).expand(16, 200))


def test_renumbering_items_renumbers_their_scores(ds):
    """The same model on the same data with item ids permuted scores each item the same."""
    labels = np.random.default_rng(3).integers(0, 3, 200)
    a = method_for(ds, labels)
    order = a.module.autoencoder.order.numpy()
    new_id = np.empty(200, dtype=np.int64)
    new_id[order] = np.arange(200)  # renumber items in cluster order: clusters unchanged
    b_labels = np.empty(200, dtype=np.int64)
    b_labels[new_id] = labels
    b = method_for(ds, b_labels, seed=1)
    weights = {k: v for k, v in a.module.state_dict().items() if k != "autoencoder.order"}
    b.module.load_state_dict(weights, strict=False)
    x = rows(ds)
    x_b = torch.empty_like(x)
    x_b[:, new_id] = x
    assert torch.allclose(b.predict(x_b)[:, new_id], a.predict(x), atol=1e-5)


def test_checkpoint_carries_the_cluster_assignment(ds):
    a = method_for(ds, np.repeat([0, 1, 2], [100, 60, 40]))
    a.train_batch(rows(ds, 100))
    b = method_for(ds, np.repeat([0, 1, 2], [20, 30, 150]), seed=4)
    b.module.load_state_dict(a.module.state_dict())
    assert b.module.autoencoder.cluster_sizes == [100, 60, 40]
    assert torch.equal(b.predict(rows(ds)), a.predict(rows(ds)))
    params = {id(p) for p in b.module.parameters()}
    assert {id(p) for o in b.optimizers() for g in o.param_groups for p in g["params"]} == params
    assert np.isfinite(b.train_batch(rows(ds, 100)))


# ------------------------------------------------------------------ the loss

def test_annealing_schedules():
    cfg = tiny(lamda=0.03, anneal_cap=0.005, anneal_steps=500, vae_anneal_cap=0.3, vae_anneal_steps=200)
    assert ldiffrec.lamda_at(0, cfg) == pytest.approx(0.03)
    assert ldiffrec.lamda_at(250, cfg) == pytest.approx(0.015)
    assert ldiffrec.lamda_at(450, cfg) == pytest.approx(0.005)  # floor: anneal_cap
    assert ldiffrec.kl_weight_at(0, cfg) == 0
    assert ldiffrec.kl_weight_at(50, cfg) == pytest.approx(0.25)
    assert ldiffrec.kl_weight_at(10_000, cfg) == pytest.approx(0.3)  # cap: vae_anneal_cap


@pytest.mark.parametrize("reweight", [True, False])
def test_training_combines_the_losses_with_annealed_weights(ds, reweight):
    # 300 users / batch 100 = 3 batches per epoch; lambda moves per epoch, beta per batch.
    m = method_for(ds, np.arange(200) % 3, reweight=reweight, lamda=0.2, anneal_steps=4, anneal_cap=0.01,
                   vae_anneal_cap=0.5, vae_anneal_steps=5)
    for b in range(8):
        loss = m.train_batch(rows(ds, 100))
        t = m.last_terms
        assert t["lamda"] == pytest.approx(max((1 - (b // 3) / 4) * 0.2, 0.01))
        assert t["beta"] == pytest.approx(min(0.5, b / 5))
        ae_loss = t["recon"] + t["beta"] * t["kl"]
        expect = t["lamda"] * t["diffusion"] + ae_loss if reweight else t["diffusion"] + t["lamda"] * ae_loss
        assert loss == pytest.approx(expect, rel=1e-5)
        assert t["kl"] > 0 and t["recon"] > 0
    assert m.epoch == 2 and m.extra_state()["batches"] == 8


def test_reparam_false_is_a_plain_autoencoder(ds):
    x = rows(ds)
    for reparam in (True, False):
        m = method_for(ds, np.arange(200) % 3, reparam=reparam)
        ae = m.module.autoencoder
        ae.drop.p = 0.0
        ae.train()
        z1, kl = ae.encode(ae.to_clusters(x))
        z2, _ = ae.encode(ae.to_clusters(x))
        assert z1.shape == (16, 24)
        assert [linears(e)[-1].out_features for e in ae.encoders] == [d * (2 if reparam else 1) for d in ae.latent_dims]
        assert torch.equal(z1, z2) != reparam  # sampled only when variational
        assert (float(kl.detach()) == 0.0) != reparam
        m.train_batch(rows(ds, 100))
        assert (m.last_terms["kl"] == 0.0) != reparam and np.isfinite(m.last_terms["loss"])


# ------------------------------------------------------------------ LT-DiffRec, the fit loop

def test_lt_diffrec_trains_on_time_weights(ds, monkeypatch):
    seen = []
    original = ldiffrec.LDiffRec.train_batch

    def spy(self, x):
        seen.append(x.clone())
        return original(self, x)

    monkeypatch.setattr(ldiffrec.LDiffRec, "train_batch", spy)
    cfg = tiny(**{"time-aware": True, "w_min": 0.2, "w_max": 1.0, "epochs": 2, "eval_step": 2})
    events = list(trainer.fit(cfg, data.load(cfg)))
    values = torch.cat([x[x > 0] for x in seen])
    assert values.min() == pytest.approx(0.2) and values.max() == pytest.approx(1.0)
    assert ((values > 0.2) & (values < 1.0)).any()
    assert events[-1]["type"] == "finished" and events[-1]["test"]["recall@20"] > 0


def test_recon_target_is_the_weighted_vector(ds):
    # steps 1, no noise, eval mode: the loss is deterministic, so its recon term can be recomputed.
    m = method_for(ds, np.arange(200) % 3, steps=1, noise_scale=0.0)
    m.module.eval()
    x_w = rows(ds, 50, time_aware=True)
    ae = m.module.autoencoder
    with torch.no_grad():
        z, _ = ae.encode(ae.to_clusters(x_w))
        logp = torch.log_softmax(ae.decode(m.module.denoiser(z, torch.zeros(50, dtype=torch.long))), 1)
        terms = m.loss_terms(x_w)
    assert float(terms["recon"]) == pytest.approx(float(-(logp * ae.to_clusters(x_w)).sum(1).mean()), rel=1e-5)
    assert float(terms["recon"]) != pytest.approx(float(-(logp * (ae.to_clusters(x_w) > 0)).sum(1).mean()), rel=1e-3)


def test_fit_reports_clusters_and_checkpoint_reloads(tmp_path):
    cfg = tiny(item_emb="svd")
    ds = data.load(cfg)
    events = list(trainer.fit(cfg, ds, tmp_path))
    started = events[0]
    assert started["model_info"]["item_emb"] == "svd64"
    sizes = started["model_info"]["clusters"]
    assert len(sizes) == 3 and sum(sizes) == 200 and min(sizes) >= 1
    done = events[-1]
    ckpt = trainer.load_checkpoint(tmp_path / "checkpoint.pt")
    torch.manual_seed(99)
    fresh = ldiffrec.LDiffRec(cfg, ds, torch.device("cpu"))
    fresh.module.load_state_dict(ckpt["state_dict"])
    valid, test = trainer.evaluate(fresh, cfg, ds, ds.train_matrix(), torch.device("cpu"))
    assert valid["recall@20"] == pytest.approx(done["valid"]["recall@20"], abs=1e-6)
    assert test["ndcg@20"] == pytest.approx(done["test"]["ndcg@20"], abs=1e-6)


def test_resume_restores_the_annealing_counters(tmp_path, monkeypatch):
    cfg = tiny(epochs=2, eval_step=1)
    ds = data.load(cfg)
    list(trainer.fit(cfg, ds, tmp_path))
    epochs_seen = []
    original = ldiffrec.LDiffRec.train_batch
    monkeypatch.setattr(ldiffrec.LDiffRec, "train_batch",
                        lambda self, x: epochs_seen.append((self.epoch, self.batches)) or original(self, x))
    events = list(trainer.fit({**cfg, "epochs": 3}, ds, tmp_path, resume=True))
    assert epochs_seen[0] == (2, 6)  # 3 batches per epoch: lambda_e and beta_b go on where they stopped
    assert events[-1]["epochs_run"] == 3


# ------------------------------------------------------------------ misconfiguration

def test_check_config_rejects_too_many_clusters():
    with pytest.raises(ConfigError, match=r"n_cate \(201\) is larger than the number of items \(200\)"):
        ldiffrec.check_config(tiny(n_cate=201), 200)
    with pytest.raises(ConfigError, match=r"n_cate \(30\) is larger than the smallest of in_dims \[24\]"):
        ldiffrec.check_config(tiny(n_cate=30), 200)
    with pytest.raises(ConfigError, match="out_dims"):
        ldiffrec.check_config(tiny(n_cate=5, out_dims=[4]), 200)


def test_cli_rejects_n_cate_above_the_item_count_with_exit_2(tmp_path):
    cfg_file = tmp_path / "bad.yaml"
    cfg_file.write_text(yaml.safe_dump({**TINY, "n_cate": 500, "in_dims": [600]}), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    res = subprocess.run([sys.executable, "-m", "diffrec_tui.cli", "--run", str(cfg_file), "--runs-dir",
                          str(tmp_path / "runs")], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    [line] = [ln for ln in res.stderr.splitlines() if "n_cate (" in ln]  # the one-line reason
    assert "n_cate (500) is larger than the number of items (200)" in line and "at most 200" in line
