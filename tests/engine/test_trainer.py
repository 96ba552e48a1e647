"""The fit loop, in process on tiny synthetic data: events and their fields, checkpoints,
seeding, early stopping, NaN losses, stop and resume."""
from __future__ import annotations

import math

import pytest
import torch

from engine.models import registry as methods
from engine.models import diffrec
from engine.data import loaders as data
from engine.training import trainer
from engine.errors import ConfigError, InputError

METRIC_KEYS = {f"{m}@{k}" for m in ("recall", "ndcg", "precision", "mrr") for k in (10, 20)}


def run(cfg, run_dir=None, **kw):
    ds = data.load(cfg)
    return ds, list(trainer.fit(cfg, ds, run_dir, **kw))


def of_type(events, kind):
    return [e for e in events if e["type"] == kind]


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_config):
    """One tiny run with a run directory, shared by the tests that only read it."""
    cfg = tiny_config()
    run_dir = tmp_path_factory.mktemp("run")
    ds, events = run(cfg, run_dir)
    return cfg, ds, events, run_dir


def test_event_sequence(finished):
    cfg, ds, events, _ = finished
    types = [e["type"] for e in events]
    assert types[0] == "started" and types[-1] == "finished"
    assert [e["epoch"] for e in of_type(events, "epoch")] == [1, 2, 3, 4]
    assert [e["epoch"] for e in of_type(events, "eval")] == [2, 4]
    # Every eval is right after the epoch it belongs to.
    for i, e in enumerate(events):
        if e["type"] == "eval":
            assert events[i - 1]["type"] == "epoch" and events[i - 1]["epoch"] == e["epoch"]


def test_started_event(finished):
    cfg, ds, events, _ = finished
    s = events[0]
    assert s["device"] == "cpu" and s["model"] == "DiffRec" and s["fingerprint"] == ds.fingerprint()
    for key in ("n_users", "n_items", "n_train", "n_valid", "n_test", "duplicates_dropped", "unseen_dropped"):
        assert s["dataset"][key] == ds.stats[key]
    n, h, e = ds.n_items, 64, cfg["embedding_size"]
    # step-embedding layer, encoder (items + embedding -> 64), decoder (64 -> items)
    assert s["parameters"] == (e * e + e) + ((n + e) * h + h) + (h * n + n)
    assert isinstance(s["pid"], int)


def test_epoch_and_eval_events(finished):
    cfg, ds, events, _ = finished
    for e in of_type(events, "epoch"):
        assert math.isfinite(e["loss"]) and e["seconds"] >= 0 and e["epochs"] == 4
    for e in of_type(events, "eval"):
        assert set(e["valid"]) == METRIC_KEYS == set(e["test"])
        assert all(0 <= v <= 1 for v in list(e["valid"].values()) + list(e["test"].values()))
        assert e["seconds"] >= 0
    losses = [e["loss"] for e in of_type(events, "epoch")]
    assert losses[-1] < losses[0]  # it learns


def test_checkpoint_events_follow_improvements(finished):
    cfg, ds, events, _ = finished
    best, expected = -1.0, []
    for e in of_type(events, "eval"):
        if e["valid"]["recall@20"] > best:
            best = e["valid"]["recall@20"]
            expected.append(e["epoch"])
    assert [e["epoch"] for e in of_type(events, "checkpoint")] == expected


def test_finished_event_reports_the_best_evaluation(finished):
    cfg, ds, events, _ = finished
    end = events[-1]
    best = max(of_type(events, "eval"), key=lambda e: e["valid"]["recall@20"])
    assert end["status"] == "finished" and end["epochs_run"] == 4
    assert end["best_epoch"] == best["epoch"]
    assert end["valid"] == best["valid"] and end["test"] == best["test"]
    assert end["train_seconds"] > 0 and end["eval_seconds"] > 0 and end["reason"]


def test_checkpoint_loads_safely_and_reproduces_the_best_metrics(finished):
    cfg, ds, events, run_dir = finished
    ckpt = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert trainer.load_checkpoint(run_dir / "checkpoint.pt").keys() == ckpt.keys()
    assert ckpt["config"] == cfg and ckpt["fingerprint"] == ds.fingerprint()
    assert (ckpt["n_users"], ckpt["n_items"]) == (ds.n_users, ds.n_items)
    assert ckpt["epoch"] == events[-1]["best_epoch"] and ckpt["kind"] == "best"
    assert ckpt["valid"] == events[-1]["valid"]
    method = methods.build(cfg, ds, torch.device("cpu"))
    method.module.load_state_dict(ckpt["state_dict"])
    valid, test = trainer.evaluate(method, cfg, ds, ds.train_matrix(), torch.device("cpu"))
    for key in METRIC_KEYS:
        assert valid[key] == pytest.approx(events[-1]["valid"][key], abs=1e-6)
        assert test[key] == pytest.approx(events[-1]["test"][key], abs=1e-6)


def test_bad_checkpoint_is_an_input_error(tmp_path):
    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="checkpoint"):
        trainer.load_checkpoint(bad)
    with pytest.raises(InputError, match="not found"):
        trainer.load_checkpoint(tmp_path / "missing.pt")


def test_same_seed_same_metrics(tiny_config, finished):
    cfg, _, events, _ = finished
    _, again = run(tiny_config())
    assert again[-1]["test"] == events[-1]["test"] and again[-1]["valid"] == events[-1]["valid"]
    assert [e["loss"] for e in of_type(again, "epoch")] == [e["loss"] for e in of_type(events, "epoch")]
    _, other = run(tiny_config(seed=8))
    assert [e["loss"] for e in of_type(other, "epoch")] != [e["loss"] for e in of_type(events, "epoch")]


def test_nan_or_inf_loss_fails_with_a_reason(tiny_config):
    cfg = tiny_config(learning_rate=1e30)
    ds = data.load(cfg)
    seen = []
    with pytest.raises(trainer.TrainingFailed) as err:
        for ev in trainer.fit(cfg, ds):
            seen.append(ev["type"])
    assert seen == ["started"]
    msg = str(err.value)
    assert ("inf" in msg or "nan" in msg) and "epoch 1" in msg and "learning_rate" in msg


def test_early_stopping_counts_evaluations_without_improvement(tiny_config):
    # A learning rate this small cannot move the valid metric, so no evaluation after the first is better.
    cfg = tiny_config(learning_rate=1e-12, epochs=30, eval_step=1, stopping_step=3)
    _, events = run(cfg)
    evals = of_type(events, "eval")
    assert len(evals) == 4 and events[-1]["epochs_run"] == 4 and events[-1]["best_epoch"] == 1
    assert "early stop" in events[-1]["reason"]


def test_last_epoch_is_always_evaluated(tiny_config):
    _, events = run(tiny_config(epochs=3, eval_step=2))
    assert [e["epoch"] for e in of_type(events, "eval")] == [2, 3]


def test_time_aware_training_sees_the_weights(tiny_config, monkeypatch):
    batches = []
    original = diffrec.DiffRec.train_batch

    def spy(self, x):
        batches.append(x.clone())
        return original(self, x)

    monkeypatch.setattr(diffrec.DiffRec, "train_batch", spy)
    _, events = run(tiny_config(time_aware=True, w_min=0.25, w_max=1.0, epochs=1, eval_step=1))
    values = torch.cat([b[b > 0] for b in batches]).unique()
    assert events[-1]["status"] == "finished"
    assert values.min() == pytest.approx(0.25) and values.max() == pytest.approx(1.0) and len(values) > 2


def stop_after(n_calls: int):
    calls = {"n": 0}

    def should_stop():
        calls["n"] += 1
        return calls["n"] > n_calls
    return should_stop


def test_stop_then_resume_continues_and_matches_an_uninterrupted_run(tiny_config, tmp_path, finished):
    cfg, ds, full, _ = finished
    # 300 users / 100 per batch = 3 batches an epoch: stop in the middle of epoch 3.
    events = list(trainer.fit(cfg, ds, tmp_path, should_stop=stop_after(7)))
    assert events[-1]["type"] == "stopped" and events[-1]["status"] == "stopped"
    assert events[-1]["epochs_run"] == 2 and events[-1]["best_epoch"] == 2
    assert (tmp_path / "checkpoint.pt").is_file() and (tmp_path / "resume.pt").is_file()

    resumed = list(trainer.fit(cfg, ds, tmp_path, resume=True))
    assert resumed[0]["type"] == "started" and resumed[0]["resumed_from_epoch"] == 2
    assert [e["epoch"] for e in of_type(resumed, "epoch")] == [3, 4]
    assert resumed[-1]["type"] == "finished" and resumed[-1]["epochs_run"] == 4
    # Weights, optimizer, loss history and RNG state all came back: the same numbers as without a stop.
    assert [e["loss"] for e in of_type(resumed, "epoch")] == [e["loss"] for e in of_type(full, "epoch")][2:]
    assert resumed[-1]["test"] == full[-1]["test"]


def test_resume_without_state_or_with_other_data_is_refused(tiny_config, tmp_path):
    cfg = tiny_config()
    ds = data.load(cfg)
    with pytest.raises(ConfigError, match="resume.pt"):
        list(trainer.fit(cfg, ds, tmp_path, resume=True))
    list(trainer.fit(tiny_config(epochs=2), ds, tmp_path))
    other = data.load(tiny_config(synthetic_seed=99))
    with pytest.raises(ConfigError, match="dataset changed"):
        list(trainer.fit(cfg, other, tmp_path, resume=True))


def test_select_device():
    assert trainer.select_device("cpu") == torch.device("cpu")
    assert trainer.select_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            trainer.select_device("cuda:0")
