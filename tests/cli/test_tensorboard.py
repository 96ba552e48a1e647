"""`--export-tensorboard RUN_OR_RUNS_DIR LOGDIR`: the runs' curves written as TensorBoard
scalars and read back with TensorBoard's own reader; a clear line when the extra is missing."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from diffrec_tui.cli import main
from engine.records.runs import load_run

FIXTURES = Path(__file__).resolve().parents[1] / "tui" / "fixtures"
RUN = "20250301-100000-DiffRec-synthetic"


def read_back(folder: Path) -> dict[str, list[tuple[int, float]]]:
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    acc = accumulator.EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(s.step, s.value) for s in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_a_run_and_a_runs_dir_are_exported_and_read_back(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    runs = tmp_path / "runs"
    shutil.copytree(FIXTURES / "runs", runs)
    shutil.copytree(FIXTURES / "sweeps" / "sweep-20250303-100000-hyper", runs / "sweep-20250303-100000-hyper")
    assert main(["--export-tensorboard", str(runs / RUN), str(tmp_path / "one")]) == 0
    got = read_back(tmp_path / "one" / RUN)
    events = load_run(runs / RUN).events
    losses = [(e["epoch"], e["loss"]) for e in events if e["type"] == "epoch"]
    assert [s for s, _ in got["Loss/Train"]] == [s for s, _ in losses]
    assert [v for _, v in got["Loss/Train"]] == pytest.approx([v for _, v in losses], rel=1e-6)
    evals = [e for e in events if e["type"] == "eval"]
    assert got["test/ndcg@20"] == [(e["epoch"], pytest.approx(e["test"]["ndcg@20"], rel=1e-6)) for e in evals]
    assert got["valid_score"] == [(e["epoch"], pytest.approx(e["valid"]["recall@20"], rel=1e-6)) for e in evals]

    assert main(["--export-tensorboard", str(runs), str(tmp_path / "all")]) == 0  # again: replaced, not doubled
    assert main(["--export-tensorboard", str(runs), str(tmp_path / "all")]) == 0
    out = capsys.readouterr().out
    assert "runs written to" in out and "tensorboard --logdir" in out
    written = sorted(p.relative_to(tmp_path / "all").as_posix() for p in (tmp_path / "all").rglob("events.*"))
    assert len(written) == 5 + 9  # every run once, the sweep's trials under the sweep's name
    assert any(w.startswith("sweep-20250303-100000-hyper/") for w in written)
    assert read_back(tmp_path / "all" / RUN)["Loss/Train"] == got["Loss/Train"]


def test_missing_extra_is_one_clear_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if tensorboard were not installed
    assert main(["--export-tensorboard", str(FIXTURES / "runs" / RUN), str(tmp_path / "tb")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ('--export-tensorboard: the tensorboard package is not installed; '
                           'pip install "diffrec-tui[tensorboard]"')


def test_not_a_run_is_exit_2(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    assert main(["--export-tensorboard", str(tmp_path), str(tmp_path / "tb")]) == 2
    assert "holds no run directory" in capsys.readouterr().err
