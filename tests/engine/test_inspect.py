"""engine.inspection.inspector on tiny runs trained in-process: trajectory, top-K, per-user metrics
against the evaluation code, what-if edits, user lists, item search, bad runs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.inspection import inspector as inspect
from engine.data import loaders as data
from engine.training import trainer
from engine.config import schema as config
from engine.errors import InputError
from engine.records.runs import RunDir

TINY = {"synthetic_users": 240, "synthetic_items": 120, "synthetic_interactions": 14, "synthetic_clusters": 6,
        "dims_dnn": [32], "embedding_size": 8, "steps": 5, "noise_schedule": "linear-var",
        "noise_scale": 0.005, "noise_min": 0.005, "noise_max": 0.01, "epochs": 4, "eval_step": 1,
        "stopping_step": 10, "train_batch_size": 64, "learning_rate": 0.005, "topk": [10, 20],
        "device": "cpu", "threads": 1, "seed": 7}


def train_run(root, **overrides) -> RunDir:
    """A finished run directory, trained in-process exactly as the worker does."""
    cfg = config.resolve({**TINY, **overrides})
    run = RunDir.create(root, cfg)
    trainer.fit_into(run, cfg, data.load(cfg))
    return run


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    run = train_run(tmp_path_factory.mktemp("runs"))
    return run, inspect.Inspector(run.path)


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    """T-DiffRec with sampling noise and noised inputs: the stochastic, weighted path."""
    run = train_run(tmp_path_factory.mktemp("runs"), **{"time-aware": True, "w_min": 0.2, "w_max": 1.0,
                                                        "sampling_noise": True, "sampling_steps": 2})
    return run, inspect.Inspector(run.path)


def masked_ranking(scores: np.ndarray, excluded) -> np.ndarray:
    s = scores.astype(np.float64).copy()
    s[list(excluded)] = -np.inf
    order = np.argsort(-s, kind="stable")
    return order[np.isfinite(s[order])]


# ---------------------------------------------------------------- one user

@pytest.mark.parametrize("fixture", ["plain", "noisy"])
def test_trajectory_has_one_vector_per_reverse_step(fixture, request):
    run, insp = request.getfixturevalue(fixture)
    view = insp.user(3, topk=10, seed=1)
    assert view.steps == run.config()["steps"] == len(view.trajectory)
    assert not view.latent
    assert all(v.shape == (insp.n_items,) for v in view.trajectory)
    assert not np.allclose(view.trajectory[0], view.trajectory[-1])  # the steps really differ


@pytest.mark.parametrize("fixture", ["plain", "noisy"])
def test_last_step_is_the_ranked_score_vector(fixture, request):
    _, insp = request.getfixturevalue(fixture)
    for user in (0, 5, 17):
        view = insp.user(user, topk=15, seed=2)
        np.testing.assert_array_equal(view.trajectory[-1], view.scores)
        # Issue 11, one ranking: the shown list is the test metric's (history and valid excluded).
        expected = masked_ranking(view.scores, [h.item for h in view.history] + view.valid_items.tolist())[:15]
        assert [r.item for r in view.top] == expected.tolist()
        assert [r.rank for r in view.top] == list(range(1, 16))
        np.testing.assert_allclose([r.score for r in view.top], view.scores[expected], rtol=0, atol=0)


def test_history_and_valid_items_never_in_top_k(plain):
    _, insp = plain
    for user in range(0, insp.n_users, 7):
        view = insp.user(user, topk=insp.n_items)  # the whole ranking
        top = {r.item for r in view.top}
        hist, valid = {h.item for h in view.history}, set(view.valid_items.tolist())
        assert hist and not top & (hist | valid)
        assert len(top) == insp.n_items - len(hist) - len(valid)


def test_hits_flag_held_out_items(plain):
    _, insp = plain
    view = insp.user(11, topk=insp.n_items)
    test, valid = set(view.test_items.tolist()), set(view.valid_items.tolist())
    assert test and valid
    assert {r.item for r in view.top if r.hit == "test"} == test
    assert not {r.item for r in view.top} & valid  # the test ranking leaves valid items out
    assert test == set(insp.ds.test[11].indices.tolist())


def test_history_is_oldest_first_with_time_aware_weights(noisy):
    _, insp = noisy
    user = 4
    view = insp.user(user)
    assert [h.item for h in view.history] == insp.ds.history(user).tolist()
    w = [h.weight for h in view.history]
    assert w[0] == pytest.approx(0.2) and w[-1] == pytest.approx(1.0)
    assert all(b > a for a, b in zip(w, w[1:]))
    # the input is the run's training row, weights and all
    expected = insp.ds.train_matrix(True, 0.2, 1.0)[user].toarray()[0]
    np.testing.assert_array_equal(view.input, expected)


def test_plain_history_weights_are_one(plain):
    _, insp = plain
    assert {h.weight for h in insp.user(2).history} == {1.0}


def test_sampling_noise_is_seeded_and_leaves_global_rng_alone(noisy):
    _, insp = noisy
    state = torch.get_rng_state()
    a, b, c = insp.user(8, seed=5), insp.user(8, seed=5), insp.user(8, seed=6)
    for x, y in zip(a.trajectory, b.trajectory):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.scores, c.scores)
    assert torch.equal(torch.get_rng_state(), state)


def test_user_out_of_range_is_an_input_error(plain):
    _, insp = plain
    for bad in (-1, insp.n_users):
        with pytest.raises(InputError, match=f"out of range; this run's dataset has users 0..{insp.n_users - 1}"):
            insp.user(bad)
    with pytest.raises(InputError, match="topk"):
        insp.user(0, topk=0)


def test_curve_marks_history_and_held_out_items(plain):
    _, insp = plain
    from diffrec_tui.widgets.score_chart import curve as chart_curve  # chart data is the widget's
    view = insp.user(6)
    curve = chart_curve(view.trajectory[0], view.marked(), points=50)
    assert len(curve.x) <= 50 and np.all(np.diff(curve.y) <= 0)
    ranks, values = curve.marks["test"]
    np.testing.assert_array_equal(values, view.trajectory[0][view.test_items])
    order = np.argsort(-view.trajectory[0], kind="stable")
    assert order[ranks[0] - 1] == view.test_items[0]


# ---------------------------------------------------------------- all users

def test_per_user_metrics_average_to_the_runs_test_metrics(plain):
    run, insp = plain
    table = insp.user_table()
    summary = run.summary()
    assert summary["status"] == "finished"
    for key in ("recall@20", "ndcg@20", "recall@10"):
        assert table.test[key].mean() == pytest.approx(summary["test"][key], abs=1e-6)
        assert table.valid[key].mean() == pytest.approx(summary["valid"][key], abs=1e-6)
    valid, test = trainer.evaluate(insp.method, insp.cfg, insp.ds, insp.train_in, insp.device)
    assert table.test["recall@20"].mean() == pytest.approx(test["recall@20"], abs=1e-9)
    assert table.test["recall@20"].std() > 0  # users really differ


def test_one_users_metrics_match_the_vectorized_pass(plain):
    _, insp = plain
    table = insp.user_table()
    for user in (0, 9, 30, 101):
        view = insp.user(user, topk=20)
        for split in ("test", "valid"):
            for key in ("recall@20", "ndcg@20"):
                assert view.metrics[split][key] == pytest.approx(getattr(table, split)[key][user], abs=1e-6)


def test_best_worst_and_random_users(plain):
    _, insp = plain
    table = insp.user_table()
    recall = table.test["recall@20"]
    best, worst = insp.best_users(10), insp.worst_users(10)
    has_test = table.n_test > 0
    assert best[0].value == pytest.approx(recall[has_test].max())
    assert worst[0].value == pytest.approx(recall[has_test].min())
    assert [u.value for u in best] == sorted((u.value for u in best), reverse=True)
    assert [u.value for u in worst] == sorted(u.value for u in worst)
    rnd = insp.random_users(15, seed=3)
    assert len({u.user for u in rnd}) == 15 and rnd == insp.random_users(15, seed=3)
    for u in best + worst + rnd:
        assert u.value == pytest.approx(recall[u.user]) and u.n_test > 0
    assert insp.user_table() is table  # cached


def test_user_table_in_small_batches_can_be_abandoned(tmp_path):
    """Batched (so single-user calls run between batches) gives the same table; a progress
    callback that raises abandons the pass and leaves nothing cached."""
    run = train_run(tmp_path)
    whole = inspect.Inspector(run.path).user_table()
    insp = inspect.Inspector(run.path)
    seen = []

    def stop_after_two(done, total):
        seen.append(done)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        insp.user_table(progress=stop_after_two, batch_size=50)
    assert seen == [50, 100] and insp._table is None
    table = insp.user_table(progress=lambda d, t: seen.append(d), batch_size=50)
    assert seen[-1] == insp.n_users and len(seen) == 2 + -(-insp.n_users // 50)
    for split in ("valid", "test"):
        for key, values in getattr(whole, split).items():
            np.testing.assert_array_equal(getattr(table, split)[key], values)


# ---------------------------------------------------------------- what-if

def test_what_if_without_edits_changes_nothing(noisy):
    _, insp = noisy
    w = insp.what_if(4, seed=3)
    np.testing.assert_allclose(w.after.scores, w.before.scores, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(w.after.input, w.before.input)
    assert not (w.entering or w.leaving or w.moved)


def test_what_if_remove_and_add(plain):
    _, insp = plain
    user = 12
    before = insp.user(user, topk=10)
    train_before = insp.train_in.copy()
    hist = [h.item for h in before.history]
    add = next(r.item for r in before.top)  # the user's best recommendation, now "seen"
    w = insp.what_if(user, remove=hist[:3], add=[add], topk=10, before=before)
    after_hist = [h.item for h in w.after.history]
    assert after_hist == hist[3:] + [add]
    after_top = [r.item for r in w.after.top]
    assert add not in after_top and not set(after_top) & set(after_hist)
    old_top = [r.item for r in before.top]
    assert {c.item for c in w.entering} == set(after_top) - set(old_top)
    assert {c.item for c in w.leaving} == set(old_top) - set(after_top)
    assert add in {c.item for c in w.leaving} and next(c for c in w.leaving if c.item == add).after is None
    for c in w.moved:
        assert after_top.index(c.item) + 1 == c.after and old_top.index(c.item) + 1 == c.before != c.after
    assert not np.allclose(w.after.scores, before.scores)
    # the original is untouched
    assert (insp.train_in != train_before).nnz == 0
    assert insp.ds.history(user).tolist() == hist
    np.testing.assert_array_equal(insp.user(user, topk=10).scores, before.scores)


def test_what_if_recomputes_time_aware_weights(noisy):
    _, insp = noisy
    hist = insp.ds.history(4).tolist()
    new = next(i for i in range(insp.n_items) if i not in hist)
    w = insp.what_if(4, remove=[hist[0]], add=[new])
    weights = [h.weight for h in w.after.history]
    assert w.after.history[-1].item == new and weights[-1] == pytest.approx(1.0)
    assert weights[0] == pytest.approx(0.2)


def test_what_if_rejects_bad_edits(plain):
    _, insp = plain
    hist = insp.ds.history(1).tolist()
    outside = next(i for i in range(insp.n_items) if i not in hist)
    with pytest.raises(InputError, match="not in user 1's history"):
        insp.what_if(1, remove=[outside])
    with pytest.raises(InputError, match="already in user 1's history"):
        insp.what_if(1, add=[hist[0]])
    with pytest.raises(InputError, match="out of range"):
        insp.what_if(1, add=[insp.n_items])


# ---------------------------------------------------------------- names, search, export

def test_item_names_come_from_the_dataset(plain, monkeypatch):
    run, _ = plain
    real = data.load

    def with_titles(cfg):
        ds = real(cfg)
        ds.item_names = [f"Film {i} ({1990 + i % 10})" for i in range(ds.n_items)]
        return ds

    monkeypatch.setattr(data, "load", with_titles)
    insp = inspect.Inspector(run.path)
    assert insp.user(0).top[0].name.startswith("Film ")
    found = insp.search_items("(1993)")
    assert [i for i, _ in found] == [i for i in range(insp.n_items) if i % 10 == 3]
    assert insp.search_items("film 7 (")[0] == (7, "Film 7 (1997)")


def test_search_by_id_without_names(plain):
    _, insp = plain
    found = insp.search_items("11")
    assert found[0] == (11, "11")
    assert {i for i, _ in found} == {i for i in range(insp.n_items) if "11" in str(i)}
    assert insp.search_items("  ") == []


def test_recommend_all_matches_single_users(plain):
    _, insp = plain
    for users, items, scores in insp.recommend_all(topk=10, batch_size=100):
        for row, user in enumerate(users[:3]):
            excluded = [h.item for h in insp.user(int(user)).history] + insp.ds.valid[user].indices.tolist()
            view = insp.user(int(user), topk=10)
            np.testing.assert_array_equal(items[row], masked_ranking(view.scores, excluded)[:10])


# ---------------------------------------------------------------- bad runs

def test_unknown_run_dir(tmp_path):
    with pytest.raises(InputError, match="no such run directory"):
        inspect.Inspector(tmp_path / "nope")


def test_run_without_checkpoint(tmp_path):
    run = RunDir.create(tmp_path, config.resolve(TINY))
    with pytest.raises(InputError, match="has no checkpoint.pt"):
        inspect.Inspector(run.path)


def test_changed_data_is_detected(plain, tmp_path):
    run, _ = plain
    ckpt = trainer.load_checkpoint(run.checkpoint_file)
    ckpt["config"]["synthetic_seed"] += 1  # the run now points at other data
    copy = RunDir(tmp_path / "copy")
    copy.path.mkdir()
    torch.save(ckpt, copy.checkpoint_file)
    with pytest.raises(InputError, match="changed since run copy was trained"):
        inspect.Inspector(copy.path)


def test_checkpoint_of_another_model_shape(plain, tmp_path):
    run, _ = plain
    ckpt = trainer.load_checkpoint(run.checkpoint_file)
    ckpt["config"]["dims_dnn"] = [16]
    copy = RunDir(tmp_path / "copy")
    copy.path.mkdir()
    torch.save(ckpt, copy.checkpoint_file)
    with pytest.raises(InputError, match="does not match its config's model"):
        inspect.Inspector(copy.path)


def test_cutoff_marks_rank_k_of_the_shown_list(plain):
    """Issue 11: a chart over all items draws the top-K line after `cutoff()` items; the
    candidates left of it are exactly the shown top-K (history and valid items excluded)."""
    _, insp = plain
    for user in (3, 11):
        view = insp.user(user, topk=10)
        order = np.argsort(-view.scores, kind="stable")
        excluded = set(view.excluded().tolist())
        left = [int(i) for i in order[:view.cutoff()] if int(i) not in excluded]
        assert left == [r.item for r in view.top]
        assert int(order[view.cutoff() - 1]) == view.top[-1].item
