"""The run index (issue 19): the same facts as reading every run in full, read once per
change of a run's files, correct while runs are added, deleted or change status, and a
damaged run or index file never stops a listing."""
from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from engine.records.run_index import INDEX_FILE, RunIndex, row_config, run_dirs
from engine.records.runs import RunDir, load_run

FIXTURES = Path(__file__).resolve().parents[1] / "tui" / "fixtures"


def finished_run(root, when: int, model: str = "DiffRec", recall: float = 0.1) -> RunDir:
    run = RunDir.create(root, {"model": model, "dataset": "d", "steps": 5}, now=datetime(2026, 1, 1, 12, 0, when))
    run.event("started", pid=None, fingerprint="fp")
    run.event("epoch", epoch=1, loss=1.0, seconds=0.1)
    m = {"recall@20": recall}
    run.event("eval", epoch=1, valid=m, test=m, seconds=0.1)
    ev = run.event("finished", valid=m, test=m, best_epoch=1, epochs_run=1, reason="done")
    run.write_summary({k: v for k, v in ev.items() if k != "type"})
    return run


@pytest.fixture
def fixture_runs(tmp_path) -> Path:
    root = tmp_path / "runs"
    shutil.copytree(FIXTURES / "runs", root)
    shutil.copytree(FIXTURES / "sweeps" / "sweep-20250303-100000-hyper", root / "sweep-20250303-100000-hyper")
    return root


def test_facts_are_those_of_reading_each_run_in_full(fixture_runs):
    runs = RunIndex(fixture_runs).runs()
    assert [r.path for r in runs] == run_dirs(fixture_runs) and len(runs) == 14  # 5 runs + 9 sweep trials
    assert sum(r.sweep is not None for r in runs) == 9
    for r in runs:
        full = load_run(r.path)
        assert (r.id, r.status, r.epochs, r.best, r.fingerprint, r.started_at, r.reason) == \
               (full.id, full.status, full.epochs, full.best, full.fingerprint, full.started_at, full.reason)
        assert r.keys == {k: v for k, v in full.config.items() if k in r.keys} and r.keys["model"] == "DiffRec"
        assert r.config == full.config and r.events == full.events  # the whole run, on demand


def test_the_index_follows_runs_added_deleted_and_changing_status(tmp_path):
    index = RunIndex(tmp_path)
    a, b = finished_run(tmp_path, 1), finished_run(tmp_path, 2)
    live = RunDir.create(tmp_path, {"model": "EASE", "dataset": "d"}, now=datetime(2026, 1, 1, 12, 0, 3))
    live.event("started", pid=os.getpid(), fingerprint="fp")
    assert [(r.id, r.status) for r in index.runs()] == [(live.id, "running"), (b.id, "finished"), (a.id, "finished")]
    assert index.reads == 3
    assert index.runs()[1] is index.runs()[1] and index.reads == 3  # nothing changed: nothing read

    c = finished_run(tmp_path, 4)  # added
    shutil.rmtree(a.path)  # deleted
    live.event("epoch", epoch=1, loss=1.0, seconds=0.1)
    live.event("stopped", reason="asked to stop")  # status changed
    runs = index.runs()
    assert [(r.id, r.status) for r in runs] == [(c.id, "finished"), (live.id, "stopped"), (b.id, "finished")]
    assert runs[1].reason == "asked to stop" and runs[1].epochs == 1
    assert index.reads == 5  # the new run and the one that changed

    live.event("started", pid=os.getpid(), fingerprint="fp")  # resumed: no final event after it
    assert index.runs()[1].status == "running"


def test_a_run_whose_worker_died_turns_dead_without_a_file_change(tmp_path):
    import subprocess
    import sys
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    run = RunDir.create(tmp_path, {"model": "EASE", "dataset": "d"})
    run.event("started", pid=os.getpid())
    index = RunIndex(tmp_path)
    assert index.runs()[0].status == "running"
    run.record_worker(child.pid, None)  # now the record names a process that is gone
    [r] = index.runs()
    assert r.status == "dead" and "without a final event" in r.reason


def test_unreadable_files_list_as_broken_with_the_reason(tmp_path):
    ok = finished_run(tmp_path, 1)
    binary = finished_run(tmp_path, 2)
    binary.config_file.write_bytes(b"\x00\x01\x02 not yaml")
    twice = finished_run(tmp_path, 3)
    twice.config_file.write_text("model: EASE\nsteps: 5\nmodel: Pop\n", encoding="utf-8")
    no_events = finished_run(tmp_path, 4)
    no_events.events_file.unlink()
    no_events.events_file.mkdir()  # a folder where the events should be: cannot be read
    garbage = finished_run(tmp_path, 5)
    garbage.config_file.write_text("model: [unclosed\n", encoding="utf-8")
    runs = {r.id: r for r in RunIndex(tmp_path).runs()}
    assert len(runs) == 5 and runs[ok.id].status == "finished"
    assert runs[binary.id].status == "broken" and "config.yaml is a binary file" in runs[binary.id].reason
    assert runs[twice.id].status == "broken" and "`model` appears twice" in runs[twice.id].reason
    assert runs[no_events.id].status == "broken" and runs[no_events.id].reason.startswith("events.jsonl cannot be read")
    assert runs[garbage.id].status == "broken" and "config.yaml line 2 is not valid YAML" in runs[garbage.id].reason
    assert str(tmp_path) not in runs[binary.id].reason  # the row names the run; the reason names the file


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_a_config_without_read_permission_lists_as_broken(tmp_path):
    run = finished_run(tmp_path, 1)
    run.config_file.chmod(0)
    try:
        [r] = RunIndex(tmp_path).runs()
        assert r.status == "broken" and "permission denied" in r.reason
    finally:
        run.config_file.chmod(0o644)


def test_the_index_file_starts_a_new_process_warm(tmp_path):
    runs = [finished_run(tmp_path, i) for i in range(4)]
    RunIndex(tmp_path, min_runs_for_file=1).runs()
    assert (tmp_path / INDEX_FILE).is_file()
    assert [p.name for p in run_dirs(tmp_path)] == [r.id for r in reversed(runs)]  # the file is no run
    fresh = RunIndex(tmp_path)
    assert [r.status for r in fresh.runs()] == ["finished"] * 4 and fresh.reads == 0
    runs[0].event("started", pid=None)  # resumed elsewhere: changed since the index file
    again = RunIndex(tmp_path)
    assert again.runs()[-1].status == "dead" and again.reads == 1


def test_small_folders_get_no_index_file(tmp_path):
    finished_run(tmp_path, 1)
    RunIndex(tmp_path).runs()
    assert not (tmp_path / INDEX_FILE).exists()


@pytest.mark.parametrize("content", [
    b"\x00garbage", b"[1, 2]\n", b'{"version": 99}\n["R", [], {}]\n',
    b'{"version": 1}\n["R", [], {"ended": "finished"}]\n', b'{"version": 1}\n["R", "x", []]\n[1, 2, 3]\n{"a": 1}\n'])
def test_a_damaged_or_foreign_index_file_is_ignored(tmp_path, content):
    run = finished_run(tmp_path, 1)
    (tmp_path / INDEX_FILE).write_bytes(content.replace(b'"R"', json.dumps(run.id).encode()))
    index = RunIndex(tmp_path, min_runs_for_file=1)
    [r] = index.runs()
    assert r.status == "finished" and r.best[1] == {"recall@20": 0.1} and index.reads == 1
    assert json.loads((tmp_path / INDEX_FILE).read_text().splitlines()[0])["version"] == 1  # rewritten


def test_an_index_file_entry_with_odd_metrics_shows_numbers_only(tmp_path):
    run = finished_run(tmp_path, 1)
    RunIndex(tmp_path, min_runs_for_file=1).runs()
    header, line = (tmp_path / INDEX_FILE).read_text().splitlines()
    key, stamp, facts = json.loads(line)
    assert key == run.id
    facts["test"] = {"recall@20": "0.9; rm -rf", "ndcg@20": 0.2}
    (tmp_path / INDEX_FILE).write_text(header + "\n" + json.dumps([key, stamp, facts]) + "\n")
    [r] = RunIndex(tmp_path).runs()
    assert r.best[1] == {"ndcg@20": 0.2}


def test_row_config_reads_only_the_row_keys_and_any_layout(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("model: EASE\n# a comment\ndims_dnn:\n- 300\n- 600\nepochs: 9\nsteps: 40\n", encoding="utf-8")
    assert row_config(p) == {"model": "EASE", "dims_dnn": [300, 600], "steps": 40}
    p.write_text("{model: Pop, steps: 3, epochs: 1}\n", encoding="utf-8")  # flow style: parsed whole
    assert row_config(p) == {"model": "Pop", "steps": 3}
    p.write_text("base: &b 7\nsteps: *b\nmodel: X\n", encoding="utf-8")  # an alias to a key not shown
    assert row_config(p) == {"steps": 7, "model": "X"}


def test_peers_skip_runs_on_other_data_without_reading_them_again(tmp_path):
    a = finished_run(tmp_path, 1)
    other = RunDir.create(tmp_path, {"model": "Pop", "dataset": "e"}, now=datetime(2026, 1, 1, 12, 0, 2))
    other.event("started", pid=1, fingerprint="other")
    index = RunIndex(tmp_path)
    assert [r.id for r in index.peers("fp")] == [a.id] and index.reads == 2
    b = finished_run(tmp_path, 3)
    assert [r.id for r in index.peers("fp")] == [b.id, a.id] and index.reads == 3


def test_a_listing_without_sweeps_keeps_the_trials_in_the_index_file(fixture_runs):
    RunIndex(fixture_runs, min_runs_for_file=1).runs()  # 5 runs and 9 trials
    index = RunIndex(fixture_runs, min_runs_for_file=1)
    finished_run(fixture_runs, 1)  # a new run: this listing writes the file again
    assert len(index.runs(sweeps=False)) == 6 and index.reads == 1
    fresh = RunIndex(fixture_runs)
    assert len(fresh.runs()) == 15 and fresh.reads == 0  # the trials it did not look up were kept


def test_a_stream_reads_the_runs_in_the_order_asked_for(fixture_runs):
    RunIndex(fixture_runs, min_runs_for_file=1).runs()  # the index file, parsed a block at a time
    keys = []

    def oldest_first(found: list[str]) -> list[str]:
        keys.extend(found)
        return found[::-1]
    runs = list(RunIndex(fixture_runs).stream(order=oldest_first))
    assert keys == [f"{p.parent.name}/{p.name}" if p.parent != fixture_runs else p.name for p in run_dirs(fixture_runs)]
    assert [r.path for r in runs] == run_dirs(fixture_runs)[::-1]


def test_peers_skip_the_models_a_caller_has_without_looking_at_their_runs(tmp_path):
    old, new = finished_run(tmp_path, 1), finished_run(tmp_path, 2)
    ease = finished_run(tmp_path, 3, model="EASE")
    index = RunIndex(tmp_path)
    assert [r.id for r in index.peers("fp")] == [ease.id, new.id, old.id] and index.reads == 3
    for run in (old, ease):  # their files change: a look at them would read them again
        run.summary_file.write_text(run.summary_file.read_text(encoding="utf-8") + " ", encoding="utf-8")
    found = [r.id for r in index.peers("fp", model_wanted=lambda model: model != "EASE")]
    assert found == [new.id, old.id] and index.reads == 4  # the old DiffRec run read again, EASE's not
    found = [r.id for r in index.peers("fp", model_wanted=lambda model: model == "EASE")]
    assert found == [ease.id] and index.reads == 5


def test_peers_stop_looking_at_a_model_once_its_newest_finished_run_is_found(tmp_path):
    from engine.records.listing import peers
    old, new = finished_run(tmp_path, 1), finished_run(tmp_path, 2)
    ease = finished_run(tmp_path, 3, model="EASE")
    assert [r.id for r in peers(ease)] == [ease.id, new.id]
    index = RunIndex.shared(tmp_path)
    old.summary_file.write_text(old.summary_file.read_text(encoding="utf-8") + " ", encoding="utf-8")
    reads = index.reads
    assert [r.id for r in peers(ease)] == [ease.id, new.id] and index.reads == reads  # the old run: not looked at
