"""Issue 11 end to end, headless, from a folder that is not the checkout and with relative
paths: --run, --resume and a 2-trial --tune; shipped configs by name; RecBole's own files
and data layout run unchanged and the export speaks ml-100k's ids and titles."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

TINY = {"dims_dnn": [32], "embedding_size": 8, "steps": 3, "epochs": 2, "eval_step": 1, "stopping_step": 5,
        "train_batch_size": 20, "topk": [5, 10], "valid_metric": "Recall@10", "device": "cpu", "threads": 1,
        "seed": 5}


def toy_recbole_data(folder: Path) -> None:
    """<folder>/toy/toy.inter (+ .item): a tiny data set in RecBole's layout."""
    (folder / "toy").mkdir(parents=True)
    rng = np.random.default_rng(1)
    lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    for u in range(50):
        lines += [f"{100 + u}\t{900 + i}\t4\t{k}" for k, i in enumerate(rng.choice(30, 10, replace=False))]
    (folder / "toy" / "toy.inter").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "toy" / "toy.item").write_text("item_id:token\tmovie_title:token_seq\n" +
                                             "".join(f"{900 + i}\tTitle {i}\n" for i in range(30)), encoding="utf-8")


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    """The user's own folder: config and data given relative to it."""
    cwd = tmp_path / "somewhere"
    cwd.mkdir()
    toy_recbole_data(cwd / "dataset")
    (cwd / "my.yaml").write_text(yaml.safe_dump({**TINY, "data_path": "dataset/", "dataset": "toy"}),
                                 encoding="utf-8")
    return cwd


def runs_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


@pytest.mark.slow
def test_run_resume_and_sweep_from_another_folder_with_relative_paths(run_cli, elsewhere):
    res = run_cli("--run", "my.yaml", "--runs-dir", "runs", cwd=elsewhere)
    assert res.returncode == 0, res.stderr
    [run] = runs_in(elsewhere / "runs")
    assert json.loads((run / "summary.json").read_text())["status"] == "finished"
    assert yaml.safe_load((run / "config.yaml").read_text())["data_path"] == str(elsewhere / "dataset")
    assert json.loads((run / "tokens.json").read_text())["users"][0] == "100"

    res = run_cli("--resume", f"runs/{run.name}", cwd=elsewhere)
    assert res.returncode == 0, res.stderr
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert [e.get("resumed_from_epoch") for e in events if e["type"] == "started"] == [None, 2]

    (elsewhere / "small.test").write_text("learning_rate choice [1e-3,5e-3]\n", encoding="utf-8")
    res = run_cli("--tune", "small.test", "--config", "my.yaml", "--runs-dir", "sweeps", cwd=elsewhere)
    assert res.returncode == 0, res.stderr
    [sweep] = runs_in(elsewhere / "sweeps")
    trials = [p for p in runs_in(sweep)]
    assert len(trials) == 2
    assert all(json.loads((t / "summary.json").read_text())["status"] == "finished" for t in trials)


def test_worker_refuses_a_relative_run_dir(tmp_path):
    res = subprocess.run([sys.executable, "-m", "engine.processes.worker", "runs/x"], cwd=tmp_path, capture_output=True,
                         text=True, env={**__import__("os").environ,
                                         "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert res.returncode == 2 and "must be an absolute path" in res.stderr


def test_shipped_configs_by_name_from_any_folder(run_cli, tmp_path):
    res = run_cli("--configs", cwd=tmp_path)
    assert res.returncode == 0 and "default.yaml" in res.stdout and "ml-1m_clean.yaml" in res.stdout
    res = run_cli("--run", "default", "--runs-dir", "r", "--set", "epochs=1", "--set", "synthetic_users=200",
                  "--set", "synthetic_items=100", "--set", "synthetic_interactions=12", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    [run] = runs_in(tmp_path / "r")
    assert yaml.safe_load((run / "config.yaml").read_text())["noise_schedule"] == "linear-var"  # default.yaml's
    (tmp_path / "default.yaml").write_text("epochs: 1\nsynthetic_users: 150\nsynthetic_items: 80\n")
    from diffrec_tui import shipped
    assert shipped.resolve("default.yaml") == shipped.default()  # from the checkout's cwd: none there
    res = run_cli("--run", "default.yaml", "--runs-dir", "r2", cwd=tmp_path)  # a file here wins
    assert res.returncode == 0, res.stderr
    assert yaml.safe_load((runs_in(tmp_path / "r2")[0] / "config.yaml").read_text())["synthetic_users"] == 150


def test_bad_data_path_is_said_before_any_run_folder(run_cli, elsewhere):
    res = run_cli("--run", "my.yaml", "--runs-dir", "runs", "--set", "dataset=ml-100k", cwd=elsewhere)
    assert res.returncode == 2 and "no .inter file" in res.stderr and "ml-100k" in res.stderr
    assert not (elsewhere / "runs").exists()


@pytest.mark.slow
def test_recboles_own_files_run_unchanged_on_ml100k(run_cli, recbole_files, shared_dataset, tmp_path):
    """overall.yaml + DiffRec.yaml as `cat` joins them, data_path and dataset given with --set
    (a second `data_path:` line in the file would be a duplicate key, which is an error)."""
    cwd = tmp_path / "work"
    shutil.copytree(shared_dataset("ml-100k"), cwd / "dataset" / "ml-100k")
    text = (recbole_files / "overall.yaml").read_text() + (recbole_files / "DiffRec.yaml").read_text()
    (cwd / "recbole.yaml").write_text(text)
    res = run_cli("--run", "recbole.yaml", "--set", "epochs=1", "--set", f"data_path={cwd / 'dataset'}/",
                  "--set", "dataset=ml-100k", timeout=300, cwd=cwd)
    assert res.returncode == 0, res.stderr
    note = next(line for line in res.stdout.splitlines() if line.startswith("note:"))
    assert "14 RecBole keys" in note and "log_wandb" in note
    [run] = runs_in(cwd / "saved")  # RecBole's checkpoint_dir: 'saved' is the runs directory
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert (cfg["learner"], cfg["order"], cfg["topk"]) == ("adam", "RO", [10])
    assert "mrr@10" in json.loads((run / "summary.json").read_text())["test"]

    res = run_cli("--export-recs", f"saved/{run.name}", "recs.csv", "--topk", "10", timeout=300, cwd=cwd)
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(open(cwd / "recs.csv", newline="", encoding="utf-8")))
    assert list(rows[0]) == ["user", "rank", "item", "title", "score"] and len(rows) == 943 * 10
    titles = {r["item"]: r["title"] for r in rows}
    assert titles.get("100", "Fargo") == "Fargo" and titles.get("1", "Toy Story") == "Toy Story"
    assert {r["user"] for r in rows} == {str(u) for u in range(1, 944)}  # ml-100k's users 1..943
