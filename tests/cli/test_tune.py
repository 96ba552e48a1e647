"""`diffrec-tui --tune`: bad input exits 2 with one line; a small real parallel sweep."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from engine.processes import cores
from diffrec_tui import cli
from diffrec_tui.headless import tune
from diffrec_tui import text
from engine.config import files as config_files
from engine.records.runs import list_runs
from engine.records.sweeps import SweepInfo, TrialInfo, load_sweep

TINY = ["--set", "synthetic_users=200", "--set", "synthetic_items=100", "--set", "synthetic_interactions=15",
        "--set", "epochs=2", "--set", "eval_step=1", "--set", "topk=[10,20]"]
DEFAULT = str(Path(__file__).resolve().parents[2] / "configs" / "default.yaml")


def write(tmp_path, text, name="hyper.test"):
    f = tmp_path / name
    f.write_text(text)
    return str(f)


def run(argv, capsys):
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("text, extra, message", [
    ("learning_rate choice [1e-3,1e-4]\ndims_dnn choice ['[300]','[200,600]']\nnoice_scale choice [0.1]\n", [],
     "hyper.test line 3: unknown key `noice_scale` (did you mean `noise_scale`?)"),
    ("steps choice [2,5]\nw_min uniform 0.1 0.3\n", [],
     "--tune: line 2 (`w_min uniform`) is continuous: random search needs --trials N"),
    ("steps choice 2 5\n", [], "hyper.test line 1: `steps choice` needs a non-empty list like [1e-3,1e-4], got `2 5`"),
    ("steps choice [2,5]\n", ["--workers", "0"], "--workers: must be >= 1, got 0"),
    ("steps choice [2,5]\n", ["--trials", "0"], "--trials: must be >= 1, got 0"),
    ("steps choice [2,5]\n", ["--set", "stepz=3"], "--set: unknown key `stepz` (did you mean `steps`?)"),
    ("noise_min choice [0.5, 0.9]\n", [], "--tune: every combination is invalid with this base config: noise_min (0.5)"),
    ("steps choice [2,5]\n", ["--search", "bayes"], "--search bayes: needs --trials N"),
    ("steps choice [2,5]\n", ["--search", "random"], "--search random: needs --trials N"),
    ("steps choice [2,5]\n", ["--search", "grid", "--trials", "3"], "--search grid: runs every combination; drop --trials"),
    ("steps choice [2,5]\n", ["--search", "tpe"], "diffrec-tui: argument --search: invalid choice: 'tpe'"),
    ("steps choice [2,5]\n", ["--prune", "hyperband"], "diffrec-tui: argument --prune: invalid choice: 'hyperband'"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, text, extra, message):
    runs = tmp_path / "runs"
    code, out, err = run(["--tune", write(tmp_path, text), "--config", DEFAULT, "--runs-dir", str(runs), *extra], capsys)
    assert code == 2
    assert err.startswith(message), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not runs.exists()  # nothing started


def test_missing_config_and_missing_files_exit_2(tmp_path, capsys):
    hyper = write(tmp_path, "steps choice [2,5]\n")
    code, _, err = run(["--tune", hyper, "--runs-dir", str(tmp_path)], capsys)
    assert code == 2 and err.startswith("--tune: needs --config CONFIG")
    code, _, err = run(["--tune", str(tmp_path / "nope.test"), "--config", DEFAULT], capsys)
    assert code == 2 and err.startswith("--tune: file not found")
    code, _, err = run(["--tune", hyper, "--config", str(tmp_path / "nope.yaml")], capsys)
    assert code == 2 and err.startswith("config: file not found")
    code, _, err = run(["--tune", hyper, "--config", DEFAULT, "--resume", str(tmp_path)], capsys)
    assert code == 2 and "is not a sweep directory" in err


@pytest.mark.slow
def test_parallel_sweep_writes_results_and_best_config(tmp_path, capsys):
    """Two real workers train in parallel; results.csv matches each run's summary and
    best.yaml is the config of the best trial by validation."""
    hyper = write(tmp_path, "# two trials run, two are invalid\nlearning_rate choice [1e-3,1e-2]\n"
                            "noise_min choice [0.0005, 0.02]   # 0.02 >= noise_max: skipped\n")
    runs = tmp_path / "runs"
    code, out, err = run(["--tune", hyper, "--config", DEFAULT, "--workers", "2", "--runs-dir", str(runs), *TINY],
                         capsys)
    assert code == 0, err
    [sweep] = [p for p in runs.iterdir() if p.name.startswith("sweep-")]
    info = load_sweep(sweep)
    assert [t.status for t in info.trials] == ["finished", "skipped", "finished", "skipped"]
    assert info.meta["strategy"] == "grid" and info.status == "finished"

    with open(sweep / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["trial"], r["status"]) for r in rows] == [("1", "finished"), ("2", "skipped"), ("3", "finished"),
                                                          ("4", "skipped")]
    assert rows[1]["reason"].startswith("noise_min (0.02) must be < noise_max")
    for row in (rows[0], rows[2]):
        summary = json.loads((sweep / row["run"] / "summary.json").read_text())
        assert float(row["valid_recall@20"]) == pytest.approx(summary["valid"]["recall@20"], abs=1e-6)
        for key in ("recall@10", "ndcg@10", "recall@20", "ndcg@20", "mrr@20", "precision@20"):
            assert float(row[f"test_{key}"]) == pytest.approx(summary["test"][key], abs=1e-6)
        assert int(row["epochs"]) == summary["epochs_run"] == 2
        assert float(row["seconds"]) > 0
    jsonl = [json.loads(x) for x in (sweep / "results.jsonl").read_text().splitlines()]
    assert {(r["trial"], r["status"]) for r in jsonl} >= {(1, "running"), (1, "finished"), (3, "finished")}

    runs_listed = list_runs(sweep)
    assert len(runs_listed) == 2 and {r.status for r in runs_listed} == {"finished"}
    assert {r.config["threads"] for r in runs_listed} == {max(1, cores.cores() // 2)}
    # both workers were started before either trial ended (they ran side by side)
    order = [(r["trial"], r["status"]) for r in jsonl if r["status"] in ("running", "finished")]
    assert sorted(order[:2]) == [(1, "running"), (3, "running")]

    best = max((r for r in rows if r["status"] == "finished"), key=lambda r: float(r["valid_recall@20"]))
    cfg = config_files.load(sweep / "best.yaml")
    assert cfg["learning_rate"] == float(best["learning_rate"]) and cfg["noise_min"] == 0.0005
    assert (cfg["synthetic_users"], cfg["epochs"], cfg["threads"]) == (200, 2, 0)
    assert f"best trial {best['trial']} (chosen by valid recall@20" in out
    assert f"best config: {sweep / 'best.yaml'}" in out

    # resuming a finished sweep runs nothing and changes nothing
    before = sorted(p.name for p in sweep.iterdir())
    code, out, err = run(["--resume", str(sweep)], capsys)
    assert code == 0, err
    assert "4 of 4 trials done, 0 to run" in out
    assert sorted(p.name for p in sweep.iterdir()) == before
    # a resume must not change the sweep's base config
    code, _, err = run(["--resume", str(sweep), "--set", "epochs=3"], capsys)
    assert code == 2 and err.startswith("--resume: the base config differs from the sweep's in epochs")


@pytest.mark.slow
def test_bayes_sweep_with_asha_runs_real_trials_and_resume_keeps_its_search(tmp_path, capsys):
    hyper = write(tmp_path, "learning_rate choice [1e-3,1e-4]\nsteps choice [2,5]\nw_min uniform 0.1 0.3\n")
    runs = tmp_path / "runs"
    code, out, err = run(["--tune", hyper, "--config", DEFAULT, "--search", "bayes", "--prune", "asha",
                          "--trials", "4", "--workers", "2", "--runs-dir", str(runs), *TINY, "--set", "epochs=3"],
                         capsys)
    assert code == 0, err
    assert "bayes of 4 trials" in out and "asha: rungs at epochs 1, 3, 9" in out
    [sweep] = [p for p in runs.iterdir() if p.name.startswith("sweep-")]
    info = load_sweep(sweep)
    assert (info.meta["strategy"], info.meta["trials"], info.meta["prune"]) == ("bayes", 4, "asha")
    assert len(info.trials) == 4 and info.status == "finished" and info.best.status == "finished"
    assert all(t.status in ("finished", "pruned") for t in info.trials)
    with open(sweep / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["trial"] for r in rows] == ["1", "2", "3", "4"]
    assert {r["status"] for r in rows} <= {"finished", "pruned"}
    code, _, err = run(["--resume", str(sweep), "--search", "random"], capsys)
    assert code == 2 and err.startswith("--resume: the sweep's --search is bayes; drop --search random")
    code, _, err = run(["--resume", str(sweep), "--prune", "none"], capsys)
    assert code == 2 and err.startswith("--resume: the sweep's --prune is asha")
    code, out, err = run(["--resume", str(sweep)], capsys)
    assert code == 0 and "4 of 4 trials done, 0 to run" in out


def _info(tmp_path, trials):
    meta = {"name": "demo", "base": {"valid_metric": "Recall@20", "metrics": ["Recall", "NDCG"], "topk": [20]},
            "space": [{"key": "learning_rate", "kind": "choice", "values": [0.1, 0.01]}], "plan": []}
    return SweepInfo(tmp_path, meta, trials, {})


def test_live_table_shows_running_first_then_best_by_validation(tmp_path):
    trials = [TrialInfo(1, {"learning_rate": 0.1}, "finished", value=0.20, test={"recall@20": 0.30}, epochs=4, seconds=3),
              TrialInfo(2, {"learning_rate": 0.2}, "failed", reason="nan"),
              TrialInfo(3, {"learning_rate": 0.3}, "finished", value=0.25, test={"recall@20": 0.10}, epochs=4, seconds=3),
              TrialInfo(4, {"learning_rate": 0.4}, "running", epochs=2),
              TrialInfo(5, {"learning_rate": 0.5}, "pending")]
    buf = io.StringIO()
    Console(file=buf, width=120, color_system=None).print(tune.trial_table(_info(tmp_path, trials), max_rows=3))
    text = buf.getvalue()
    lines = [ln for ln in text.splitlines() if ln.startswith("│")]
    assert [ln.split("│")[1].strip() for ln in lines] == ["4", "3", "1"]  # running, then valid 0.25 > 0.20
    assert "demo: 3/5 done" in text and "1 more in" in text
    assert "0.2500" in lines[1] and "0.1000" in lines[1]


def test_plain_lines_describe_trials(tmp_path):
    info = _info(tmp_path, [])
    t = TrialInfo(3, {"learning_rate": 0.001, "dims_dnn": [200, 600]}, "finished", value=0.1234,
                  test={"recall@20": 0.1111, "ndcg@20": 0.05}, epochs=7, seconds=12.34)
    info.trials[:] = [t] * 4
    assert tune.describe(t, info) == ("trial 3/4 finished: valid recall@20 0.1234 | test recall@20 0.1111 "
                                      "ndcg@20 0.0500 (7 epochs, 12.3s): learning_rate=0.001 dims_dnn=[200,600]")
    twin = TrialInfo(4, {"learning_rate": 0.001, "w_min": 0.2}, "finished", value=0.1234, test=t.test, epochs=7,
                     seconds=0.0, same_as=3)
    assert tune.describe(twin, info).endswith("(same config as trial 3, not run again): learning_rate=0.001 w_min=0.2")
    assert (text.seconds_cell(t), text.seconds_cell(twin)) == ("12", "=3")
