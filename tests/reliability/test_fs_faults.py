"""File systems that refuse: a runs dir that is read-only, under a read-only folder or a
file; an export target that is a folder or in an unwritable folder; a name too long for a
file name. One line naming the path and the fix, exit 2, never a traceback."""
from __future__ import annotations

import pytest

from faults import cli, events, main_in_process, one_line, runs_in, tiny, unwritable

RUNS_FIX = "--runs-dir or DIFFREC_RUNS_DIR"


def test_a_read_only_runs_dir(tmp_path):
    with unwritable(tmp_path / "runs") as runs:
        res = cli("--run", tiny(tmp_path / "c.yaml"), "--runs-dir", runs)
    one_line(res, 2, "runs dir: ", str(runs), "not permitted" if "not permitted" in res.stderr else "permission",
             RUNS_FIX)
    assert runs_in(runs) == []


def test_a_runs_dir_under_a_read_only_folder(tmp_path):
    with unwritable(tmp_path / "locked") as locked:
        res = cli("--run", tiny(tmp_path / "c.yaml"), "--runs-dir", locked / "runs")
    one_line(res, 2, "runs dir: ", str(locked / "runs"), RUNS_FIX)
    assert not (locked / "runs").exists()


@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_runs_dir_that_is_a_file(tmp_path, how):
    runs = tmp_path / "runs"
    runs.write_text("not a folder")
    args = ["--runs-dir", runs] if how == "flag" else []
    res = cli("--run", tiny(tmp_path / "c.yaml"), *args, env={"DIFFREC_RUNS_DIR": str(runs)} if how == "env" else None)
    one_line(res, 2, str(runs), "is a file, not a folder", RUNS_FIX)
    assert runs.read_text() == "not a folder"


def test_a_sweep_in_a_read_only_runs_dir(tmp_path):
    hyper = tmp_path / "hyper.test"
    hyper.write_text("learning_rate choice [0.001,0.002]\n")
    with unwritable(tmp_path / "runs") as runs:
        res = cli("--tune", hyper, "--config", tiny(tmp_path / "c.yaml"), "--runs-dir", runs)
    assert "Traceback" not in res.stdout + res.stderr and res.returncode == 2, res.stderr
    assert "runs dir: " in res.stderr and RUNS_FIX in res.stderr


def test_a_dataset_name_too_long_for_a_file_name_still_runs(tmp_path):
    """300 characters: the run folder's name is cut short, the name is kept in the config."""
    runs = tmp_path / "runs"
    res = cli("--run", tiny(tmp_path / "c.yaml", dataset="d" * 300, epochs=1), "--runs-dir", runs)
    assert res.returncode == 0 and "Traceback" not in res.stdout + res.stderr, res.stderr
    [run] = runs_in(runs)
    assert len(run.name) < 100 and events(run)[-1]["type"] == "finished"
    assert "d" * 300 in (run / "config.yaml").read_text()


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny run with a checkpoint, trained in-process."""
    from engine.data import loaders as data
    from engine.config import schema as config
    from engine.records.runs import RunDir
    from engine.training.trainer import fit_into
    from faults import TINY
    cfg = config.resolve({**TINY, "epochs": 2, "eval_step": 1})
    run = RunDir.create(tmp_path_factory.mktemp("runs"), cfg)
    fit_into(run, cfg, data.load(cfg))
    return run.path


def test_export_to_a_folder(finished, tmp_path, capsys):
    one_line(main_in_process(capsys, "--export-recs", finished, tmp_path), 2, str(tmp_path), "is a folder",
             "recs.csv")


def test_export_into_an_unwritable_folder(finished, tmp_path, capsys):
    with unwritable(tmp_path / "locked") as locked:
        res = main_in_process(capsys, "--export-recs", finished, locked / "recs.csv")
        assert list(locked.iterdir()) == []
    one_line(res, 2, "export: ", str(locked), "choose another OUT path")


def test_export_into_a_missing_folder(finished, tmp_path, capsys):
    """What already held: a missing folder is named before any scoring."""
    one_line(main_in_process(capsys, "--export-recs", finished, tmp_path / "no" / "recs.csv"), 2,
             "does not exist", str(tmp_path / "no"))


def test_export_with_a_name_too_long(finished, tmp_path, capsys):
    one_line(main_in_process(capsys, "--export-recs", finished, tmp_path / ("r" * 300 + ".csv")), 2,
             "export: ", "file name too long", "choose another OUT path")
