"""Run directories are untrusted input: a killed writer's partial line, a checkpoint or
resume.pt that does not hold what we write, a crafted checkpoint that names another file.
Each is one line and exit 2; a crafted checkpoint reads and creates nothing."""
from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from faults import REPO, TINY, cli, events, main_in_process, one_line, worker_in_process

TRAIN = {**TINY, "epochs": 4, "eval_step": 2, "stopping_step": 10}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny run stopped after epoch 2 (checkpoint.pt and resume.pt), trained in-process."""
    from engine.data import loaders as data
    from engine.config import schema as config
    from engine.records.runs import RunDir
    from engine.training.trainer import fit_into

    cfg = config.resolve(TRAIN)
    run = RunDir.create(tmp_path_factory.mktemp("runs"), cfg)
    calls = {"n": 0}

    def stop_in_epoch_3():
        calls["n"] += 1
        return calls["n"] > 6  # 3 batches an epoch: stop at the first batch of epoch 3

    fit_into(run, cfg, data.load(cfg), stop_in_epoch_3)
    assert run.summary()["status"] == "stopped" and run.resume_file.is_file()
    return run.path


@pytest.fixture
def run(trained, tmp_path):
    """A fresh copy of the trained run for a test to damage."""
    return shutil.copytree(trained, tmp_path / "runs" / trained.name)


def files_under(*roots) -> set:
    return {str(p) for root in roots for p in root.rglob("*")} if roots else set()


def test_resume_after_a_truncated_events_line_keeps_every_event(run):
    with open(run / "events.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"type": "epoch", "epoch": 3, "lo')  # the writer was killed mid-line
    res = cli("--resume", run)
    assert res.returncode == 0 and "Traceback" not in res.stdout + res.stderr, res.stderr
    lines = (run / "events.jsonl").read_text().splitlines()
    assert lines.count('{"type": "epoch", "epoch": 3, "lo') == 1  # closed, alone on its line
    parsed = [json.loads(line) for line in lines if line != '{"type": "epoch", "epoch": 3, "lo']
    assert [e["type"] for e in parsed].count("started") == 2
    assert [e["epoch"] for e in parsed if e["type"] == "epoch"] == [1, 2, 3, 4]
    assert parsed[-1]["type"] == "finished"


def save_checkpoint(run, change):
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    torch.save(change(ckpt), run / "checkpoint.pt")


@pytest.mark.parametrize("change, words", [
    (lambda c: [1, 2, 3], ["checkpoint.pt", "holds a list"]),
    (lambda c: {**c, "config": ["model", "DiffRec"]}, ["checkpoint.pt", "`config` is a list"]),
    (lambda c: {**c, "config": {**c["config"], "steps": -1}}, ["its config is not valid", "`steps`"]),
    (lambda c: {**c, "config": {**c["config"], "no_such_key": 1}}, ["its config is not valid", "no_such_key"]),
    (lambda c: {**c, "state_dict": {"w": "not a tensor"}}, ["`state_dict` must map names to tensors"]),
    (lambda c: {k: v for k, v in c.items() if k != "fingerprint"}, ["lacks `fingerprint`"]),
    (lambda c: {**c, "epoch": "two"}, ["`epoch` is a str"]),
], ids=["list", "config-list", "config-invalid", "config-unknown-key", "state-not-tensors", "no-fingerprint",
        "epoch-str"])
def test_a_checkpoint_that_is_not_ours_exits_2(run, change, words, capsys):
    save_checkpoint(run, change)
    one_line(main_in_process(capsys, "--inspect", run, "--user", "0"), 2, "checkpoint: ", *words)


@pytest.mark.parametrize("command", ["inspect", "export"])
def test_a_crafted_checkpoint_naming_etc_passwd_reads_and_creates_nothing(run, tmp_path, command, capsys):
    save_checkpoint(run, lambda c: {**c, "config": {**c["config"], "data_format": "csv", "data_path": "/etc/passwd"}})
    out = tmp_path / "recs.csv"
    before, repo_before = files_under(tmp_path), set(os.listdir(REPO))
    args = ["--inspect", run, "--user", "0"] if command == "inspect" else ["--export-recs", run, out]
    one_line(main_in_process(capsys, *args), 2, "/etc/passwd", "reads .csv", absent=("root:", "/bin/"))
    assert files_under(tmp_path) == before and set(os.listdir(REPO)) == repo_before
    assert not out.exists()


@pytest.mark.parametrize("name", ["checkpoint.pt", "resume.pt"])
def test_a_pickle_that_runs_code_is_refused_and_runs_nothing(run, tmp_path, name, capsys):
    """What already held: weights_only loading; the payload never runs."""
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"state_dict": Payload()}, run / name)
    res = main_in_process(capsys, "--inspect", run, "--user", "0") if name == "checkpoint.pt" \
        else worker_in_process(capsys, run)
    one_line(res, 2, name, "cannot be read safely")
    assert not marker.exists()


def save_resume(run, change):
    last = torch.load(run / "resume.pt", weights_only=True)
    torch.save(change(last), run / "resume.pt")


@pytest.mark.parametrize("change, words", [
    (lambda r: [r], ["resume.pt", "holds a list"]),
    (lambda r: {k: v for k, v in r.items() if k != "optimizers"}, ["resume.pt", "lacks `optimizers`"]),
    (lambda r: {**r, "optimizers": []}, ["`optimizers` holds 0 states"]),
    (lambda r: {**r, "progress": {**r["progress"], "epoch": "2"}}, ["`progress.epoch`"]),
    (lambda r: {**r, "state_dict": {k: v[:1] for k, v in r["state_dict"].items()}}, ["does not fit this run's model"]),
    (lambda r: {**r, "torch_rng": torch.zeros(3)}, ["does not fit this run's model"]),
    (lambda r: {**r, "extra": {"diffusion": {"loss_history": torch.zeros(2, 2), "loss_count": torch.zeros(2)}}},
     ["does not fit this run's model", "shapes"]),
], ids=["list", "no-optimizers", "optimizers-empty", "progress-str", "state-shapes", "rng", "extra-shapes"])
def test_a_resume_pt_that_is_not_ours_exits_2(run, change, words, capsys):
    """The worker's boundary, in this process (the CLI prints the failed event's reason:
    the end-to-end path is test_a_resume_pt_that_is_a_list_through_the_cli)."""
    save_resume(run, change)
    one_line(worker_in_process(capsys, run), 2, "checkpoint: ", *words, "start a new run")
    assert events(run)[-1]["type"] == "failed"  # recorded, and the run is not left "running"


def test_a_resume_pt_that_is_a_list_through_the_cli(run):
    save_resume(run, lambda r: [r])
    one_line(cli("--resume", run), 2, "checkpoint: ", "resume.pt", "holds a list")


def test_a_runs_config_yaml_with_duplicate_keys(run):
    text = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(text + "steps: 40\n")
    one_line(cli("--resume", run), 2, "config.yaml", "`steps` appears twice")


def test_damaged_run_files_still_list_with_a_status(run):
    """Garbage in events.jsonl, summary.json and worker.json never stops a listing."""
    from engine.records.runs import list_runs
    with open(run / "events.jsonl", "ab") as fh:
        fh.write(b"\xff\xfe garbage\n[1, 2]\n{\"no\": \"type\"}\n")
    (run / "summary.json").write_bytes(b"\x00\x01")
    (run / "worker.json").write_text('{"pid": "not a pid"}')
    [info] = list_runs(run.parent)
    assert info.status == "stopped" and info.epochs == 2


def test_a_reused_pid_or_a_stale_record_from_another_host_is_not_taken_for_the_worker(run):
    """worker.json names a live process that is not the worker (the pid was reused), or a
    host that stopped writing long ago: the run is dead, and --resume may continue it."""
    import time
    from engine.records.runs import load_run
    (run / "events.jsonl").write_text((run / "events.jsonl").read_text().rsplit('{"type": "stopped"', 1)[0])
    (run / "worker.json").write_text(json.dumps({"pid": os.getpid(), "start": 1, "host": None}))
    assert load_run(run).status == "dead"
    (run / "worker.json").write_text(json.dumps({"pid": 1, "start": 1, "host": "elsewhere"}))
    assert load_run(run).status == "running"  # written a moment ago: it may be training there
    old = time.time() - 7200
    for name in ("worker.json", "events.jsonl"):
        os.utime(run / name, (old, old))
    assert load_run(run).status == "dead"
