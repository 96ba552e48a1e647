"""Shared fixtures: the repository root, the shared real datasets (skipped when absent),
tiny synthetic configs, a temporary runs directory, and a CLI runner that imports this
checkout's code (not whatever copy is installed in the virtual environment)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"
SHARED_RECBOLE = REPO_ROOT.parent / "shared" / "recbole"  # RecBole 1.2.1's own config files

# Small enough that a full fit (4 epochs, 2 evaluations) takes a few seconds on a busy CPU.
TINY = {
    "model": "DiffRec",
    "dataset": "tiny",
    "data_format": "synthetic",
    "synthetic_users": 300,
    "synthetic_items": 200,
    "synthetic_interactions": 20,
    "synthetic_clusters": 5,
    "dims_dnn": [64],
    "train_batch_size": 100,
    "epochs": 4,
    "eval_step": 2,
    "stopping_step": 10,
    "topk": [10, 20],
    "valid_metric": "Recall@20",
    "device": "cpu",
    "threads": 1,
    "seed": 7,
}


def _tiny_raw(**overrides) -> dict:
    """The tiny config as a raw (unresolved) dict; `time_aware=` stands for `time-aware`."""
    raw = dict(TINY)
    for key, value in overrides.items():
        raw["time-aware" if key == "time_aware" else key] = value
    return raw


@pytest.fixture
def shared_datasets() -> Path:
    """../shared/datasets beside the repository; the test is skipped when it is missing."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATASETS}")
    return SHARED_DATASETS


@pytest.fixture
def recbole_files() -> Path:
    """../shared/recbole (RecBole's overall.yaml, model and dataset properties); skipped when missing."""
    if not (SHARED_RECBOLE / "overall.yaml").is_file():
        pytest.skip(f"RecBole's config files not found at {SHARED_RECBOLE}")
    return SHARED_RECBOLE


@pytest.fixture
def shared_dataset(shared_datasets):
    """shared_dataset('ml-1m_clean') -> its path, skipping the test if that one is missing."""
    def get(name: str) -> Path:
        path = shared_datasets / name
        if not path.exists():
            pytest.skip(f"dataset {name} not found at {path}")
        return path
    return get


@pytest.fixture(scope="session")
def tiny_raw():
    """tiny_raw(**overrides) -> the tiny synthetic config as a raw dict (for YAML files)."""
    return _tiny_raw


@pytest.fixture(scope="session")
def tiny_config():
    """tiny_config(**overrides) -> a resolved config for a seconds-long synthetic run."""
    from engine.config import schema as config

    def make(**overrides) -> dict:
        return config.resolve(_tiny_raw(**overrides))
    return make


@pytest.fixture(scope="session")
def recbole_run(tmp_path_factory):
    """A run on a tiny RecBole-layout data set (<root>/dataset/toy/toy.inter and toy.item):
    60 users with tokens 1000, 1007, ... (not dense ids), items 500..539, titles
    'Film N, The' (commas), trained by the worker's own code path. Returns its RunDir."""
    import csv

    import numpy as np

    from engine.processes import worker
    from engine.config import schema as config
    from engine.records.runs import RunDir
    root = tmp_path_factory.mktemp("recbole_run")
    folder = root / "dataset" / "toy"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    with open(folder / "toy.inter", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["user_id:token", "item_id:token", "rating:float", "timestamp:float"])
        for u in range(60):
            w.writerows([str(1000 + 7 * u), str(500 + i), 5, k] for k, i in enumerate(rng.choice(40, 12, replace=False)))
    with open(folder / "toy.item", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["item_id:token", "movie_title:token_seq"])
        w.writerows([(str(500 + i), f"Film {i}, The") for i in range(40)])
    cfg = config.resolve({"dims_dnn": [32], "embedding_size": 8, "steps": 3, "epochs": 2, "eval_step": 1,
                          "stopping_step": 5, "train_batch_size": 20, "topk": [5, 10], "valid_metric": "Recall@10",
                          "device": "cpu", "threads": 1, "seed": 5, "data_path": str(root / "dataset"),
                          "dataset": "toy"})
    run = RunDir.create(root / "runs", cfg)
    assert worker.run(str(run.path)) == 0
    return run


@pytest.fixture
def write_config(tmp_path):
    """write_config(raw_dict, name='config.yaml') -> path of a YAML file holding it."""
    def write(raw: dict, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        return path
    return write


@pytest.fixture
def runs_dir(tmp_path) -> Path:
    path = tmp_path / "runs"
    path.mkdir()
    return path


def subprocess_env() -> dict:
    """Environment for child interpreters: this checkout first on the import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.pop("DIFFREC_RUNS_DIR", None)
    env.setdefault("COLUMNS", "120")
    return env


@pytest.fixture
def child_env() -> dict:
    """The environment for a child interpreter (e.g. subprocess.Popen of the CLI)."""
    return subprocess_env()


@pytest.fixture
def run_cli():
    """run_cli(*args, timeout=...) -> CompletedProcess of `python -m diffrec_tui.cli ARGS`
    (stdout/stderr captured as text, so the CLI prints plain lines, not a Rich display)."""
    def run(*args, timeout: float = 120, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "diffrec_tui.cli", *map(str, args)], cwd=cwd,
                              env=subprocess_env(), capture_output=True, text=True, timeout=timeout)
    return run


@pytest.fixture
def python_code():
    """python_code(source) -> CompletedProcess of a fresh interpreter running `source`."""
    def run(source: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", source], cwd=REPO_ROOT, env=subprocess_env(),
                              capture_output=True, text=True, timeout=timeout)
    return run
