"""Issue 18: progress lines and the final table show the metrics valid_metric and topk name
(RecBole's topk [10] and MRR@10 included), and the split the run used."""
from __future__ import annotations

import io

from diffrec_tui.headless import report
from diffrec_tui import text
from engine.records.runs import RunDir

RECBOLE_METRICS = ["Recall", "MRR", "NDCG", "Hit", "Precision"]
AT10 = {"recall@10": 0.2751, "mrr@10": 0.5239, "ndcg@10": 0.3212, "hit@10": 0.8, "precision@10": 0.2}
STATS = {"n_users": 943, "n_items": 1682, "n_train": 80808, "n_valid": 9596, "n_test": 9596,
         "split": "recbole 0.8/0.1/0.1 RO", "unseen_targets": 34, "unseen_dropped": 0}


def test_headline_keys_follow_valid_metric_and_topk():
    keys = text.headline_keys({"valid_metric": "MRR@10", "metrics": RECBOLE_METRICS, "topk": [10]})
    assert keys == ("mrr@10", "ndcg@10", "recall@10")
    default = text.headline_keys({"valid_metric": "Recall@20", "metrics": ["Recall", "NDCG", "Precision", "MRR"]})
    assert default == text.HEADLINE_KEYS == ("recall@20", "ndcg@20")
    assert text.headline_keys({"valid_metric": "Hit@5", "metrics": ["Hit"]}) == ("hit@5",)
    assert text.headline_keys(None) == text.HEADLINE_KEYS


def test_progress_line_with_topk_10_shows_mrr_at_10():
    keys = text.headline_keys({"valid_metric": "MRR@10", "metrics": RECBOLE_METRICS})
    ev = {"type": "eval", "epoch": 3, "valid": AT10, "test": AT10, "seconds": 1.5}
    line = text.describe(ev, keys)
    assert line == ("eval epoch 3: valid mrr@10 0.5239 ndcg@10 0.3212 recall@10 0.2751 | "
                    "test mrr@10 0.5239 ndcg@10 0.3212 recall@10 0.2751 (1.50s)")
    out = io.StringIO()
    view = report.PlainView(keys)
    import contextlib
    with contextlib.redirect_stdout(out):
        view.show(ev)
    assert "valid mrr@10 0.5239" in out.getvalue()
    rich = report.RichView(keys)
    rich.state.update(epochs=10, epoch=3, loss=1.0, valid=AT10)
    assert "valid mrr@10 0.5239" in rich.render().plain


def test_started_line_gives_the_split_and_the_unseen_targets():
    ev = {"type": "started", "model": "DiffRec", "device": "cpu", "dataset": STATS, "parameters": 1000}
    line = text.describe(ev)
    assert "train/valid/test 80808/9596/9596 (recbole 0.8/0.1/0.1 RO)" in line
    assert "34 held-out items unseen in training kept as targets" in line
    dropped = dict(STATS, unseen_dropped=34, n_valid=9579, n_test=9579)
    assert "34 held-out items unseen in training dropped" in text.describe({**ev, "dataset": dropped})
    old = {"n_users": 3, "n_items": 4, "n_train": 9}  # an event written before the split counts
    assert "9 train interactions" in text.describe({**ev, "dataset": old})


def test_final_table_puts_the_valid_metric_first_and_gives_the_split(tmp_path):
    run = RunDir.create(tmp_path, {"model": "DiffRec", "dataset": "ml-100k"})
    ev = {"type": "finished", "best_epoch": 7, "epochs_run": 18, "valid": AT10, "test": AT10,
          "split": {k: STATS[k] for k in ("split", "n_train", "n_valid", "n_test", "unseen_targets", "unseen_dropped")}}
    out = io.StringIO()
    report.print_summary(run, ev, out=out, keys=("mrr@10", "ndcg@10", "recall@10"))
    text = out.getvalue()
    assert "best epoch 7 of 18" in text and "chosen by valid mrr@10" in text
    rows = [line for line in text.splitlines() if "@10" in line and line.startswith("│")]
    assert [r.split()[1] for r in rows][:3] == ["mrr@10", "ndcg@10", "recall@10"] and len(rows) == 5
    assert "split: train/valid/test 80808/9596/9596" in text


def test_headless_run_with_recboles_metrics_prints_them(run_cli, runs_dir, write_config, tiny_raw):
    path = write_config(tiny_raw(topk=[10], metrics=RECBOLE_METRICS, valid_metric="MRR@10", epochs=2, eval_step=1))
    res = run_cli("--run", path, "--runs-dir", runs_dir, timeout=300)
    assert res.returncode == 0, res.stderr
    evals = [line for line in res.stdout.splitlines() if line.startswith("eval epoch")]
    assert len(evals) == 2 and all("valid mrr@10 " in e and "| test mrr@10 " in e for e in evals)
    assert "chosen by valid mrr@10" in res.stdout and "split: train/valid/test" in res.stdout
