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
    from engine import config

    def make(**overrides) -> dict:
        return config.resolve(_tiny_raw(**overrides))
    return make


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
