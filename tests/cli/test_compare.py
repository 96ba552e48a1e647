"""`diffrec-tui --compare`: every model as an ordinary run, one table, a CSV; bad input exits 2."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from diffrec_tui import cli
from diffrec_tui.headless import compare

REPO_ROOT = Path(__file__).resolve().parents[2]

TINY = {"model": "DiffRec", "dataset": "tiny", "data_format": "synthetic", "synthetic_users": 300,
        "synthetic_items": 120, "synthetic_interactions": 20, "synthetic_clusters": 6,
        "steps": 10, "noise_scale": 0.01,  # diffusion keys the baselines must ignore
        "topk": [10, 20], "device": "cpu", "threads": 1, "seed": 3}

EXPECTED_COLUMNS = ["model", "status", "best_epoch",
                    "valid_recall@10", "valid_recall@20", "valid_ndcg@10", "valid_ndcg@20",
                    "test_recall@10", "test_recall@20", "test_ndcg@10", "test_ndcg@20",
                    "train_seconds", "eval_seconds", "run_dir"]


@pytest.fixture
def config_file(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY), encoding="utf-8")
    return path


def run_cli(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("DIFFREC_RUNS_DIR", None)
    return subprocess.run([sys.executable, "-m", "diffrec_tui.cli", *map(str, args)], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def test_compare_runs_each_model_as_a_run_and_saves_the_table(config_file, tmp_path, capsys):
    runs = tmp_path / "runs"
    code = cli.main(["--compare", str(config_file), "--models", "ease,Pop", "--runs-dir", str(runs),
                     "--set", "reg_weight=50"])
    out = capsys.readouterr().out
    assert code == 0, out
    # every run lies in its model's seed group inside the comparison folder (issue 16)
    run_dirs = sorted(p.parent for p in runs.glob("compare-*-tiny/sweep-*-seeds_*/*/config.yaml"))
    assert len(run_dirs) == 2
    assert not list(runs.glob("compare-*-tiny/sweep-*-tune_*"))  # EASE fixed by --set, Pop has nothing to tune
    summaries = {}
    for d in run_dirs:  # ordinary run directories: config, events, checkpoint, summary
        cfg = yaml.safe_load((d / "config.yaml").read_text())
        assert (d / "checkpoint.pt").is_file() and (d / "events.jsonl").is_file()
        summaries[cfg["model"]] = json.loads((d / "summary.json").read_text())
        assert summaries[cfg["model"]]["status"] == "finished"
        if cfg["model"] == "EASE":
            assert cfg["reg_weight"] == 50.0
    assert set(summaries) == {"EASE", "Pop"}

    tables = list(runs.glob("compare-*-tiny.csv"))
    assert len(tables) == 1
    with open(tables[0], newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == EXPECTED_COLUMNS
        rows = list(reader)
    assert [r["model"] for r in rows] == ["EASE", "Pop"]  # the order asked for
    for r in rows:
        s = summaries[r["model"]]
        for split in ("valid", "test"):
            for m in ("recall@10", "recall@20", "ndcg@10", "ndcg@20"):
                assert float(r[f"{split}_{m}"]) == pytest.approx(s[split][m])
        assert float(r["train_seconds"]) == pytest.approx(s["train_seconds"])
        assert Path(r["run_dir"]).is_dir()

    for header in ("model", "valid", "test", "R@10", "R@20", "N@10", "N@20", "train"):
        assert header in out
    assert "EASE" in out and "Pop" in out and str(tables[0]) in out


def test_best_value_per_metric_is_found_over_the_finished_rows():
    def row(model, v):
        r = {c: None for c in compare.COLUMNS}
        r.update(model=model, status="finished")
        r.update({c: v[i] for i, c in enumerate(compare.COLUMNS[3:-3]) if i < len(v)})
        return r
    rows = [row("A", [0.1, 0.3, 0.2, 0.2]), row("B", [0.2, 0.1, 0.2]), row("C", [])]  # C failed: no metrics
    best = compare.best_per_column(rows)
    assert best["valid_recall@10"] == 0.2 and best["valid_recall@20"] == 0.3
    assert best["valid_ndcg@10"] == 0.2 and best["valid_ndcg@20"] == 0.2
    assert "test_ndcg@20" not in best  # nobody has it


def test_parse_models_is_case_insensitive_and_defaults_to_all_five():
    assert compare.parse_models(None) == ["Pop", "ItemKNN", "EASE", "MultiVAE", "DiffRec"]
    assert compare.parse_models("diffrec, EASE,ease") == ["DiffRec", "EASE"]


def test_ease_above_its_item_limit_exits_2_before_any_run(config_file, tmp_path):
    runs = tmp_path / "runs"
    res = run_cli("--compare", config_file, "--models", "Pop,EASE", "--set", "ease_max_items=50",
                  "--runs-dir", runs)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "ease_max_items" in lines[0] and "Traceback" not in res.stderr
    assert not runs.exists() or not any(runs.iterdir())  # checked before Pop ran


@pytest.mark.parametrize("args, word", [
    (["--models", "Pop,SLIM"], "--models"),
    (["--set", "model=EASE"], "--models"),
    (["--set", "reg_weigth=5"], "reg_weight"),
])
def test_bad_arguments_exit_2_with_one_line(config_file, tmp_path, capsys, args, word):
    code = cli.main(["--compare", str(config_file), "--runs-dir", str(tmp_path / "runs"), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and word in err[0]
    assert not (tmp_path / "runs").exists()


def test_compare_does_not_import_torch():
    code = "import sys, diffrec_tui.headless.compare; print('torch' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"


def test_compare_with_seeds_tunes_baselines_on_validation_and_tests_against_the_best(config_file, tmp_path, capsys):
    from scipy import stats

    from engine.records import comparison, per_user, seeds
    from engine.records.sweeps import load_sweep

    runs = tmp_path / "runs"
    code = cli.main(["--compare", str(config_file), "--models", "Pop,EASE", "--seeds", "1,2", "--runs-dir", str(runs)])
    out = capsys.readouterr().out
    assert code == 0, out
    (path,) = [p for p in runs.iterdir() if p.is_dir()]
    rec = comparison.read(path)
    assert rec["seeds"] == [1, 2] and rec["status"] == "finished"

    tuning = load_sweep(path / rec["entries"]["EASE"]["tuning"])  # EASE: reg_weight over the built-in grid
    assert len(tuning.trials) == 6 and all(t.status == "finished" for t in tuning.trials)
    top = max(tuning.trials, key=lambda t: (t.valid["recall@20"], -t.index))  # chosen by validation only
    assert rec["entries"]["EASE"]["tuned"] == {"reg_weight": top.params["reg_weight"]}
    group = seeds.load(path / rec["entries"]["EASE"]["group"])
    assert group.base["reg_weight"] == top.params["reg_weight"] and sorted(group.runs) == [1, 2]
    assert rec["entries"]["Pop"]["tuning"] is None  # nothing to tune
    assert f"reg_weight={top.params['reg_weight']:g}" in out

    res = rec["result"]
    means = {m: res["rows"][m]["valid"]["mean"] for m in ("Pop", "EASE")}
    assert res["best"] == max(means, key=means.get)
    other = "Pop" if res["best"] == "EASE" else "EASE"
    vec = {}
    for m in ("Pop", "EASE"):
        g = seeds.load(path / rec["entries"][m]["group"])
        vec[m] = np.mean([per_user.read(r).metrics["recall@20"] for r in g.runs.values()], axis=0)
    vs = res["rows"][other]["vs_best"]["recall@20"]
    assert vs["diff"] == pytest.approx(float((vec[other] - vec[res["best"]]).mean()))
    assert vs["p_wilcoxon"] == pytest.approx(stats.wilcoxon(vec[other], vec[res["best"]]).pvalue)
    assert vs["p_ttest_holm"] == pytest.approx(stats.ttest_rel(vec[other], vec[res["best"]]).pvalue)  # one other model
    assert vs["ci_low"] <= vs["diff"] <= vs["ci_high"]
    assert "vs best [95% CI]" in out and "Holm" in out and (path / "summary.csv").is_file()
    with open(path / "summary.csv", newline="") as fh:
        assert [r["model"] for r in csv.DictReader(fh)] == ["Pop", "EASE"]
