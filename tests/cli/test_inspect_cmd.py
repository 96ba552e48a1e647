"""`--inspect` and `--export-recs` on a tiny run trained in-process, and their bad inputs."""
from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from diffrec_tui.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = {"synthetic_users": 200, "synthetic_items": 100, "synthetic_interactions": 14, "synthetic_clusters": 5,
        "dims_dnn": [32], "embedding_size": 8, "steps": 4, "noise_schedule": "linear-var",
        "noise_scale": 0.005, "noise_min": 0.005, "noise_max": 0.01, "epochs": 3, "eval_step": 1,
        "stopping_step": 10, "train_batch_size": 50, "learning_rate": 0.005, "topk": [10, 20],
        "device": "cpu", "threads": 1, "seed": 3,
        "eval_batch_size": 6400}  # 64 users x 100 items a batch (RecBole counts scores): progress shows


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from engine.data import loaders as data
    from engine.training import trainer
    from engine.config import schema as config
    from engine.records.runs import RunDir

    cfg = config.resolve(TINY)
    run = RunDir.create(tmp_path_factory.mktemp("runs"), cfg)
    trainer.fit_into(run, cfg, data.load(cfg))
    return run


@pytest.fixture(scope="module")
def insp(run):
    from engine.inspection.inspector import Inspector
    return Inspector(run.path)


def test_inspect_prints_the_top_k_table(run, insp, capsys):
    assert main(["--inspect", str(run.path), "--user", "7", "--topk", "5"]) == 0
    out = capsys.readouterr().out
    view = insp.user(7, topk=5)
    rows = [line.split("│")[1:-1] for line in out.splitlines() if line.count("│") == 5]
    assert [[c.strip() for c in r][:2] for r in rows] == [[str(r.rank), str(r.item)] for r in view.top]
    assert [float(r[2]) for r in rows] == pytest.approx([r.score for r in view.top], abs=1e-4)
    assert f"recall@5 {view.metrics['test']['recall@5']:.4f}" in out
    assert f"ndcg@5 {view.metrics['test']['ndcg@5']:.4f}" in out


def test_inspect_json(run, insp, capsys):
    assert main(["--inspect", str(run.path), "--user", "12", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    view = insp.user(12)  # default K = 20
    assert doc["user"] == 12 and doc["topk"] == 20 and len(doc["items"]) == 20
    assert doc["items"] == [r.item for r in view.top]
    assert doc["scores"] == pytest.approx([r.score for r in view.top])
    assert doc["hits"] == [r.hit or None for r in view.top]
    assert doc["metrics"]["test"]["recall@20"] == pytest.approx(view.metrics["test"]["recall@20"])
    assert set(doc["test_items"]) == set(insp.ds.test[12].indices.tolist())
    hits = {i for i, h in zip(doc["items"], doc["hits"]) if h == "test"}
    assert hits <= set(doc["test_items"])
    # Issue 11, one ranking: the list is the test metric's (history and valid items excluded),
    # so its hits are exactly what the user's test Recall@20 counts.
    assert doc["ranking"].startswith("test") and set(doc["hits"]) <= {"test", None}
    assert not set(doc["items"]) & (set(doc["valid_items"]) | set(doc["history"]))
    assert doc["metrics"]["test"]["recall@20"] == pytest.approx(len(hits) / max(1, len(doc["test_items"])))


def rescore(rows: list[dict], ds, k: int) -> tuple[float, float]:
    """Recall@k and NDCG@k from the CSV alone, against the test split, averaged over all users."""
    ranked: dict[int, list[int]] = {}
    for r in rows:
        ranked.setdefault(int(r["user"]), []).append((int(r["rank"]), int(r["item"])))
    recall = ndcg = 0.0
    for u in range(ds.n_users):
        truth = set(ds.test[u].indices.tolist())
        if not truth:
            continue
        items = [i for _, i in sorted(ranked.get(u, []))][:k]
        gains = [1.0 / math.log2(pos + 2) for pos, i in enumerate(items) if i in truth]
        recall += len(gains) / len(truth)
        ndcg += sum(gains) / sum(1.0 / math.log2(p + 2) for p in range(min(k, len(truth))))
    return recall / ds.n_users, ndcg / ds.n_users


def test_export_recs_rescores_to_the_runs_test_metrics(run, insp, tmp_path, capsys):
    out = tmp_path / "recs.csv"
    assert main(["--export-recs", str(run.path), str(out)]) == 0
    assert "wrote 4000 rows" in capsys.readouterr().err
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["user", "rank", "item", "score"]
    assert len(rows) == insp.n_users * 20
    seen = insp.train_in + insp.ds.valid
    assert not any(seen[int(r["user"]), int(r["item"])] for r in rows)
    recall, ndcg = rescore(rows, insp.ds, 20)
    summary = run.summary()
    assert recall == pytest.approx(summary["test"]["recall@20"], abs=1e-6)
    assert ndcg == pytest.approx(summary["test"]["ndcg@20"], abs=1e-6)
    assert not list(tmp_path.glob("*.tmp"))


def test_export_recs_topk_and_progress(run, insp, tmp_path, capsys):
    out = tmp_path / "recs10.csv"
    assert main(["--export-recs", str(run.path), str(out), "--topk", "10"]) == 0
    err = capsys.readouterr().err
    assert "export-recs: 64/200 users" in err and "200/200 users" in err
    recall, _ = rescore(list(csv.DictReader(open(out, newline=""))), insp.ds, 10)
    assert sum(1 for _ in open(out)) == 1 + 200 * 10
    assert recall == pytest.approx(run.summary()["test"]["recall@10"], abs=1e-6)


@pytest.mark.parametrize("argv, message", [
    (["--inspect", "{missing}", "--user", "0"], "no such run directory"),
    (["--inspect", "{empty}", "--user", "0"], "has no checkpoint.pt"),
    (["--inspect", "{run}", "--user", "200"], "--user: 200 is out of range; this run's dataset has users 0..199"),
    (["--inspect", "{run}", "--user", "-1"], "out of range"),
    (["--inspect", "{run}"], "add --user ID"),
    (["--inspect", "{run}", "--user", "0", "--topk", "0"], "--topk: 0 must be at least 1"),
    (["--export-recs", "{missing}", "{tmp}/out.csv"], "no such run directory"),
    (["--export-recs", "{empty}", "{tmp}/out.csv"], "has no checkpoint.pt"),
    (["--export-recs", "{run}", "{tmp}/no/such/dir/out.csv"], "does not exist"),
])
def test_bad_inputs_exit_2_with_one_line(run, tmp_path, capsys, argv, message):
    from engine.config import schema as config
    from engine.records.runs import RunDir
    empty = RunDir.create(tmp_path / "runs", config.resolve(TINY))  # config.yaml but never evaluated
    paths = {"missing": tmp_path / "nope", "empty": empty.path, "run": run.path, "tmp": tmp_path}
    argv = [a.format(**paths) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_command_module_does_not_import_torch():
    code = "import sys, diffrec_tui.headless.inspect; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
