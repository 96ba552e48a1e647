"""A normal install: the wheel built from this checkout, installed (not editable) into a
fresh virtual environment, works from another folder with no source tree in sight: the
shipped configs are package data, --run default, --resume and a 2-trial --tune exit 0.

To stay quick (about 15 s here) the new environment reuses the test environment's
third-party packages (torch...) through a .pth line and installs only the wheel, with
--no-deps. A .pth line only adds a folder to the import path, so the checkout's editable
install, whose own .pth lives in that folder, is not active in the new environment.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--set", "epochs=2", "--set", "eval_step=1", "--set", "synthetic_users=200", "--set", "synthetic_items=100",
         "--set", "synthetic_interactions=12", "--set", "threads=1"]


def sh(*cmd, cwd: Path, env=None, timeout=300) -> subprocess.CompletedProcess:
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"{cmd}: {res.stdout[-2000:]}\n{res.stderr[-3000:]}"
    return res


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin/ folder of a fresh venv holding the wheel of this checkout."""
    root = tmp_path_factory.mktemp("wheel")
    # Build from a copy: no stale build/ folder of the checkout can slip files into the wheel.
    source = root / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "runs", "__snapshots__"))
    sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", root / "dist", source, cwd=root)
    [wheel] = (root / "dist").glob("diffrec_tui-*.whl")
    sh(sys.executable, "-m", "venv", "--without-pip", root / "venv", cwd=root)
    python = root / "venv" / "bin" / "python"
    site = sh(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n", encoding="utf-8")
    sh(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel, cwd=root)
    return root / "venv" / "bin"


def clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DIFFREC_RUNS_DIR", "VIRTUAL_ENV")}
    env["COLUMNS"] = "120"
    return env


@pytest.mark.slow
def test_wheel_install_works_from_any_folder(installed, tmp_path):
    cwd = tmp_path / "somewhere"
    cwd.mkdir()
    env = clean_env()
    where = sh(installed / "python", "-c", "import diffrec_tui, engine; from diffrec_tui import shipped; "
               "print(diffrec_tui.__file__, engine.__file__, shipped.default())", cwd=cwd, env=env).stdout.split()
    venv = str(installed.parent)
    assert all(p.startswith(venv) for p in where), where  # nothing from the checkout
    assert Path(where[2]).is_file() and "site-packages/diffrec_tui/configs" in where[2]

    listed = sh(installed / "diffrec-tui", "--configs", cwd=cwd, env=env).stdout
    assert "default.yaml" in listed and "ldiffrec_default.yaml" in listed

    sh(installed / "diffrec-tui", "--run", "default", "--runs-dir", "runs", *SMALL, cwd=cwd, env=env)
    [run] = list((cwd / "runs").iterdir())
    assert json.loads((run / "summary.json").read_text())["status"] == "finished"
    sh(installed / "diffrec-tui", "--resume", f"runs/{run.name}", cwd=cwd, env=env)

    (cwd / "small.test").write_text("learning_rate choice [1e-3,5e-3]\n", encoding="utf-8")
    sh(installed / "diffrec-tui", "--tune", "small.test", "--config", "default.yaml", "--runs-dir", "sweeps", *SMALL,
       cwd=cwd, env=env)
    [sweep] = list((cwd / "sweeps").iterdir())
    trials = [p for p in sweep.iterdir() if p.is_dir()]
    assert len(trials) == 2 and all(json.loads((t / "summary.json").read_text())["status"] == "finished"
                                    for t in trials)
