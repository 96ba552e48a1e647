"""Headless `diffrec-tui --run` end to end: the default config beats popularity, the run
directory contract, exit codes 0/1/2/130, Ctrl-C and --resume, one-line errors."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from procs import LineReader

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT = REPO_ROOT / "configs" / "default.yaml"
EVENT_FIELDS = {
    "started": {"pid", "device", "model", "dataset", "parameters", "fingerprint"},
    "epoch": {"epoch", "loss", "seconds", "epochs"},
    "eval": {"epoch", "valid", "test", "seconds"},
    "checkpoint": {"epoch"},
    "finished": {"status", "best_epoch", "epochs_run", "valid", "test", "train_seconds", "eval_seconds", "reason"},
}
SUMMARY_FIELDS = {"status", "best_epoch", "epochs_run", "valid", "test", "train_seconds", "eval_seconds"}


def only_run(runs_dir: Path) -> Path:
    [run] = [p for p in runs_dir.iterdir() if p.is_dir()]
    return run


def events_of(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "events.jsonl").read_text(encoding="utf-8").splitlines()]


def no_traceback(*texts):
    for t in texts:
        assert "Traceback" not in t, t


def popularity_recall(ds, k: int) -> float:
    """Recall@k on test of ranking items by training popularity, with the same protocol:
    train and valid items masked, users without test items count as 0."""
    pop = np.bincount(ds.train_items, minlength=ds.n_items).astype(np.float64)
    seen = (ds.train_matrix() + ds.valid).toarray() > 0
    test = ds.test.toarray() > 0
    scores = np.where(seen, -np.inf, pop[None, :])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    hits = np.take_along_axis(test, top, axis=1).sum(1)
    n = test.sum(1)
    return float(np.mean(np.where(n > 0, hits / np.maximum(n, 1), 0.0)))


# ------------------------------------------------------------------ the acceptance run

@pytest.mark.slow
def test_default_config_trains_and_beats_popularity(run_cli, runs_dir):
    res = run_cli("--run", DEFAULT, "--runs-dir", runs_dir, timeout=600)
    assert res.returncode == 0, res.stderr
    no_traceback(res.stdout, res.stderr)
    run = only_run(runs_dir)

    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert SUMMARY_FIELDS <= set(summary) and summary["status"] == "finished"

    from engine.data import loaders as data
    from engine.config import files as config_files
    ds = data.load(config_files.load(DEFAULT))
    baseline = popularity_recall(ds, 20)
    assert 0.05 < baseline < 0.5  # the baseline itself is sane
    assert summary["test"]["recall@20"] >= 1.25 * baseline, (summary["test"]["recall@20"], baseline)

    events = events_of(run)
    types = [e["type"] for e in events]
    assert types[0] == "started" and types[-1] == "finished"
    for kind, fields in EVENT_FIELDS.items():
        found = [e for e in events if e["type"] == kind]
        assert found, kind
        for e in found:
            assert fields | {"type", "time"} <= set(e), (kind, set(e))
    evals = [e for e in events if e["type"] == "eval"]
    assert {"recall@20", "ndcg@20"} <= set(evals[0]["valid"]) and {"recall@20", "ndcg@20"} <= set(evals[0]["test"])
    assert events[0]["dataset"]["n_users"] == ds.n_users and events[0]["fingerprint"] == ds.fingerprint()
    assert summary["test"] == events[-1]["test"]

    import torch
    ckpt = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert ckpt["epoch"] == summary["best_epoch"] and ckpt["fingerprint"] == ds.fingerprint()

    # Not a terminal: plain lines, then the metrics table and the run's path.
    assert "started DiffRec on cpu" in res.stdout and "epoch 1/" in res.stdout
    assert "recall@20" in res.stdout and f"run directory: {run}" in res.stdout


# ------------------------------------------------------------------ failures and interruptions

def test_nan_loss_fails_the_run_with_exit_1(run_cli, runs_dir, write_config, tiny_raw):
    # --set and --device on the way: they must reach the recorded config.
    res = run_cli("--run", write_config(tiny_raw(device="auto")), "--runs-dir", runs_dir,
                  "--set", "learning_rate=1e30", "--set", "dims_dnn=[32,48]", "--device", "cpu")
    assert res.returncode == 1, res.stderr
    no_traceback(res.stdout, res.stderr)
    first = res.stderr.splitlines()[0]
    assert first.startswith("diffrec-tui: run failed: loss became") and "learning_rate" in first
    run = only_run(runs_dir)
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "failed" and summary["kind"] == "training" and "loss became" in summary["reason"]
    assert events_of(run)[-1]["type"] == "failed"
    recorded = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    assert recorded["learning_rate"] == 1e30 and recorded["dims_dnn"] == [32, 48] and recorded["device"] == "cpu"


def start_cli(env, *args):
    return subprocess.Popen([sys.executable, "-m", "diffrec_tui.cli", *map(str, args)], cwd=REPO_ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def interrupt(proc) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, proc.stderr.read()


def test_ctrl_c_stops_cleanly_and_resume_continues(runs_dir, write_config, tiny_raw, child_env):
    cfg = write_config(tiny_raw(epochs=1000, eval_step=1, stopping_step=1000))
    proc = start_cli(child_env, "--run", cfg, "--runs-dir", runs_dir)
    try:
        out = LineReader(proc)
        out.wait_for("checkpoint epoch")
        code, err = interrupt(proc)
    finally:
        proc.kill()
    assert code == 130, err
    no_traceback(err, "".join(out.seen))
    run = only_run(runs_dir)
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "stopped" and summary["best_epoch"] >= 1
    assert (run / "checkpoint.pt").is_file() and (run / "resume.pt").is_file()
    events = events_of(run)
    assert events[-1]["type"] == "stopped"
    stopped_at = summary["epochs_run"]
    assert stopped_at >= 1

    proc = start_cli(child_env, "--resume", run)
    try:
        out = LineReader(proc)
        first = out.wait_for("epoch ")  # the first epoch line after the resumed start
        assert first.startswith(f"epoch {stopped_at + 1}/1000"), first
        code, err = interrupt(proc)
    finally:
        proc.kill()
    assert code == 130, err
    events = events_of(run)
    starts = [e for e in events if e["type"] == "started"]
    assert len(starts) == 2 and starts[1]["resumed_from_epoch"] == stopped_at
    epochs = [e["epoch"] for e in events if e["type"] == "epoch"]
    assert epochs == list(range(1, len(epochs) + 1))  # eval_step 1: nothing repeated, nothing skipped
    assert json.loads((run / "summary.json").read_text(encoding="utf-8"))["status"] == "stopped"


# ------------------------------------------------------------------ bad input: exit 2, one line

def npy_folder(tmp_path, case):
    good = np.array([[0, 0], [0, 1], [1, 1], [1, 2]])
    arrays = {"train": good, "valid": good[:2], "test": good[2:]}
    if case == "shape":
        arrays["train"] = np.array([[0, 1, 2]] * 4)
    elif case == "dtype":
        arrays["valid"] = good.astype(str)
    elif case == "negative":
        arrays["test"] = np.array([[1, -2]])
    elif case == "non_integer":
        arrays["train"] = good + 0.5
    elif case == "empty":
        arrays["valid"] = np.zeros((0, 2), dtype=np.int64)
    folder = tmp_path / "split"
    folder.mkdir()
    for name, arr in arrays.items():
        if not (case == "missing" and name == "valid"):
            np.save(folder / f"{name}_list.npy", arr)
    return folder


@pytest.mark.parametrize("case, file, words", [
    ("missing", "valid_list.npy", ["not found"]),
    ("shape", "train_list.npy", ["shape", "(n, 2)"]),
    ("dtype", "valid_list.npy", ["dtype"]),
    ("negative", "test_list.npy", ["negative id", "row 0"]),
    ("non_integer", "train_list.npy", ["non-integer id", "row 0"]),
    ("empty", "valid_list.npy", ["empty"]),
])
def test_bad_split_folder_exits_2_with_one_line(run_cli, runs_dir, write_config, tmp_path, case, file, words):
    folder = npy_folder(tmp_path, case)
    cfg = write_config({"dataset": "bad", "data_format": "diffrec_npy", "data_path": str(folder), "device": "cpu"})
    res = run_cli("--run", cfg, "--runs-dir", runs_dir)
    assert res.returncode == 2, res.stderr
    no_traceback(res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    message = lines[0]
    assert message.startswith("data: ")
    assert str(folder / file) in message
    for w in words:
        assert w in message, message
    # Issue 11: a run whose data could not be loaded leaves no failed run folder behind.
    assert not [p for p in runs_dir.iterdir() if p.is_dir()]


def test_missing_data_path_exits_2(run_cli, runs_dir, write_config, tmp_path):
    cfg = write_config({"data_format": "diffrec_npy", "data_path": str(tmp_path / "nowhere"), "device": "cpu"})
    res = run_cli("--run", cfg, "--runs-dir", runs_dir)
    assert res.returncode == 2
    assert "nowhere" in res.stderr.splitlines()[0] and "not found" in res.stderr.splitlines()[0]


def test_csv_header_without_user_item_columns_exits_2(run_cli, runs_dir, write_config, tmp_path):
    csv_file = tmp_path / "x.csv"
    csv_file.write_text("who,what,when\n1,2,3\n1,3,4\n", encoding="utf-8")
    cfg = write_config({"data_format": "csv", "data_path": str(csv_file), "device": "cpu"})
    res = run_cli("--run", cfg, "--runs-dir", runs_dir)
    assert res.returncode == 2
    no_traceback(res.stdout, res.stderr)
    message = res.stderr.splitlines()[0]
    assert str(csv_file) in message and "no user column" in message and "who, what, when" in message


@pytest.mark.parametrize("make_args, words", [
    (lambda cfg: ["--run", cfg, "--set", "noice_scale=0.1"], ["noice_scale", "did you mean `noise_scale`"]),
    (lambda cfg: ["--run", cfg, "--set", "steps=many"], ["steps", "integer"]),
    (lambda cfg: ["--run", cfg, "--set", "steps"], ["key=value"]),
    (lambda cfg: ["--run", cfg, "--bogus-flag"], ["--bogus-flag"]),
    (lambda cfg: ["--run"], ["--run", "argument"]),
    (lambda cfg: ["--run", cfg, "--device", "tpu"], ["device", "tpu"]),
    (lambda cfg: ["--run", "/no/such/config.yaml"], ["/no/such/config.yaml", "not found"]),
    (lambda cfg: ["--resume", "/no/such/run"], ["/no/such/run", "not a run directory"]),
])
def test_bad_arguments_exit_2_with_one_line(run_cli, runs_dir, write_config, tiny_raw, make_args, words):
    cfg = write_config(tiny_raw())
    res = run_cli(*make_args(cfg), "--runs-dir", runs_dir)
    assert res.returncode == 2
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    for w in words:
        assert w in lines[0], lines[0]
    assert list(runs_dir.iterdir()) == []  # nothing recorded for a run that never started


@pytest.mark.parametrize("raw, words", [
    ({"steps": "abc"}, ["steps", "integer"]),
    ({"noise_min": 0.01, "noise_max": 0.001}, ["noise_min", "noise_max"]),
    ({"learning_rte": 0.1}, ["did you mean `learning_rate`"]),
    ({"valid_metric": "Recall@7"}, ["valid_metric", "Recall@7"]),
])
def test_bad_config_file_exits_2_with_one_line(run_cli, runs_dir, write_config, tiny_raw, raw, words):
    res = run_cli("--run", write_config({**tiny_raw(), **raw}), "--runs-dir", runs_dir)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("config: "), res.stderr
    for w in words:
        assert w in lines[0], lines[0]
    assert list(runs_dir.iterdir()) == []
