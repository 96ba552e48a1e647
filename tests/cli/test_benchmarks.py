"""The limit benchmark and the GPU check run end to end on a tiny synthetic config on the
CPU (the GPU check's steps are the same there; nothing here needs a GPU or asserts a time)."""
from __future__ import annotations

import re
import subprocess
import sys

from conftest import REPO_ROOT, subprocess_env


def bench(script: str, *args, timeout: float = 300) -> str:
    out = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / script), *map(str, args)],
                         cwd=REPO_ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def ratio(text: str, phase: str) -> float:
    m = re.search(rf"^{phase}: median [\d.e-]+s best [\d.e-]+s \| floor ([\d.e-]+)s \| ratio median ([\d.]+)", text, re.M)
    assert m, f"no {phase} line in:\n{text}"
    assert float(m.group(1)) > 0
    return float(m.group(2))


def test_limits_prints_every_phase_against_its_floor(write_config, tiny_raw):
    cfg = write_config(tiny_raw(epochs=2, eval_step=1, stopping_step=1))
    text = bench("limits.py", "--config", cfg, "--epochs", 1, "--evals", 1)
    assert ratio(text, "train epoch") > 0 and ratio(text, "evaluation") > 0
    assert re.search(r"GFLOP in \d+ products", text) and "GFLOPS" in text
    assert re.search(r"^start-up: command to first epoch [\d.]+s, last evaluation to exit [\d.]+s: fixed cost", text, re.M)
    whole = re.search(r"^whole run: [\d.]+s wall, (\d+) epochs .* \| floor [\d.]+s \| ratio [\d.]+", text, re.M)
    assert whole and int(whole.group(1)) >= 1
    assert re.search(r"test R@20 0\.\d{4} N@20 0\.\d{4}; peak RSS \(worker\) [\d.]+ GB", text)


def test_limits_of_a_closed_form_model_say_there_is_no_floor(write_config, tiny_raw):
    cfg = write_config(tiny_raw(model="Pop"))
    assert "closed-form model, no FLOP floor" in bench("limits.py", "--config", cfg, "--skip-run")


def test_gpu_check_runs_every_step_on_the_cpu(write_config, tiny_raw):
    cfg = write_config(tiny_raw(epochs=2, eval_step=1, stopping_step=1))
    text = bench("gpu_check.py", "--config", cfg, "--device", "cpu", "--epochs", 1, "--evals", 1)
    assert re.search(r"^device auto -> \w+", text, re.M)
    for title in ("environment", "limits on cpu", "bfloat16 evaluation against float32"):
        assert f"== {title}" in text
    assert ratio(text, "train epoch") > 0 and "whole run:" in text and "start-up:" in text
    assert re.search(r"float32: [\d.]+s, test R@20", text)


def test_run_index_bench_prints_each_figure_for_each_n():
    """Issue 19's benchmark end to end on small folders (listing, peers, the Runs screen)."""
    text = bench("run_index_bench.py", "--n", 30, 120, "--old-max", 20, timeout=600)
    lines = [line.split() for line in text.splitlines() if line.split()]
    head = next(line for line in lines if line[0] == "n")
    rows = [dict(zip(head, line)) for line in lines if line[0] in ("30", "120")]
    assert [r["n"] for r in rows] == ["30", "120"] and all(len(r) == len(head) for r in rows)
    assert {"key_p95_ms", "key_max_ms", "loop_max_ms", "settled_max_ms"} <= set(head)  # key waits while loading
    for r in rows:
        assert all(float(x) >= 0 for x in r.values())
        assert float(r["shown"]) <= float(r["first"]) <= float(r["full"])  # screen up, first rows, full table
    assert float(rows[1]["index_kb"]) > 0 and float(rows[0]["index_kb"]) == 0  # an index file for 100 runs or more only
