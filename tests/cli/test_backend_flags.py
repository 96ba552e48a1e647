"""--backend and its flags: a missing Ray extra or a flag without its backend is one line and
exit 2 before anything is written; the coordinator takes the same flags; the overhead
benchmark runs end to end (it prints figures, asserts no time)."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, subprocess_env


def hyper(tmp_path):
    f = tmp_path / "hyper.test"
    f.write_text("learning_rate choice [0.001, 0.002]\n")
    return str(f)


def cli(*args, pre: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
    code = f"import sys\n{pre}\nfrom diffrec_tui.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=REPO_ROOT, env=subprocess_env(),
                          capture_output=True, text=True, timeout=timeout)


def one_line(res, *words):
    assert res.returncode == 2 and "Traceback" not in res.stdout + res.stderr, res.stderr
    [line] = [x for x in res.stderr.splitlines() if x.strip()]
    for w in words:
        assert w in line, line


def test_backend_ray_without_ray_installed_says_how_to_install_it(tmp_path, write_config, tiny_raw):
    runs = tmp_path / "runs"
    res = cli("--tune", hyper(tmp_path), "--config", write_config(tiny_raw()), "--runs-dir", runs,
              "--backend", "ray", pre="sys.modules['ray'] = None  # as if the extra were not installed")
    one_line(res, "--backend ray", "pip install 'diffrec-tui[ray]'")
    assert not runs.exists()


@pytest.mark.parametrize("flags, words", [
    (["--address", "10.0.0.1:6379"], ["need --backend ray"]),
    (["--cpus-per-trial", "2", "--backend", "local"], ["need --backend ray"]),
    (["--backend", "nope"], ["--backend", "invalid choice"]),
])
def test_backend_flags_that_do_not_fit_exit_2(tmp_path, write_config, tiny_raw, flags, words):
    runs = tmp_path / "runs"
    res = cli("--tune", hyper(tmp_path), "--config", write_config(tiny_raw()), "--runs-dir", runs, *flags)
    one_line(res, *words)
    assert not runs.exists()


def test_the_coordinator_takes_the_backend_flags_and_refuses_wrong_ones(tmp_path):
    for args in (["--backend", "nope"], ["--workers"], ["--address", "x", "--backend", "local"]):
        res = subprocess.run([sys.executable, "-m", "engine.processes.sweep_runner", str(tmp_path), *args],
                             cwd=REPO_ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=60)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
        assert len(res.stderr.strip().splitlines()) == 1


def test_the_overhead_benchmark_prints_both_backends(write_config, tiny_raw):
    cfg = write_config(tiny_raw(epochs=1, eval_step=1))
    out = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "trial_overhead.py"), "--config", str(cfg),
                          "--trials", "2", "--rounds", "1"], cwd=REPO_ROOT, env=subprocess_env(),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    for backend in ("process", "local"):
        assert re.search(rf"^{backend} +[\d.]+ +[\d.]+ \| +[\d.]+ +[\d.]+ \|", out.stdout, re.M), out.stdout
