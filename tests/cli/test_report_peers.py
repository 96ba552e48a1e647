"""The --run summary lists each model's latest finished run on the same data, best in bold."""
import io
from datetime import datetime

from engine.records.listing import peers
from diffrec_tui.headless.report import print_peers
from engine.records.runs import RunDir


def fake_run(root, model, fingerprint, recall, when):
    run = RunDir.create(root, {"model": model, "dataset": "d"}, now=datetime(2026, 1, 1, 12, 0, when))
    run.event("started", fingerprint=fingerprint)
    test = {"recall@10": recall / 2, "recall@20": recall, "ndcg@10": recall / 3, "ndcg@20": recall / 2}
    ev = run.event("finished", status="finished", valid=test, test=test, best_epoch=1, epochs_run=1)
    run.write_summary({k: v for k, v in ev.items() if k != "type"})
    return run


def test_peers_are_runs_on_the_same_data_latest_per_model(tmp_path):
    fake_run(tmp_path, "DiffRec", "aaa", 0.10, 1)
    newer = fake_run(tmp_path, "DiffRec", "aaa", 0.12, 2)
    ease = fake_run(tmp_path, "EASE", "aaa", 0.15, 3)
    fake_run(tmp_path, "Pop", "other-data", 0.30, 4)
    found = {r.config["model"]: r.path for r in peers(ease)}
    assert found == {"DiffRec": newer.path, "EASE": ease.path}


def test_print_peers_lists_every_model_with_its_metrics(tmp_path):
    fake_run(tmp_path, "DiffRec", "aaa", 0.12, 1)
    ease = fake_run(tmp_path, "EASE", "aaa", 0.15, 2)
    out = io.StringIO()
    print_peers(ease, out=out)
    text = out.getvalue()
    assert "EASE (this run)" in text and "DiffRec" in text and "0.1500" in text


def test_no_table_for_a_lonely_run(tmp_path):
    only = fake_run(tmp_path, "DiffRec", "aaa", 0.12, 1)
    out = io.StringIO()
    print_peers(only, out=out)
    assert out.getvalue() == ""


def test_peers_come_from_the_index_each_run_read_once(tmp_path):
    """Issue 19: the --run summary looks its peers up in the run index; a second summary
    reads only the run that is new, and a broken run among them does not hurt."""
    from engine.records.run_index import RunIndex
    for i in range(6):
        fake_run(tmp_path, "Pop", "other-data", 0.3, 10 + i)
    broken = RunDir.create(tmp_path, {"model": "X", "dataset": "d"}, now=datetime(2026, 1, 1, 12, 0, 30))
    broken.events_file.write_text("{not json\n")
    fake_run(tmp_path, "DiffRec", "aaa", 0.12, 40)
    ease = fake_run(tmp_path, "EASE", "aaa", 0.15, 41)
    index = RunIndex.shared(tmp_path)
    assert sorted(r.keys["model"] for r in peers(ease)) == ["DiffRec", "EASE"]
    assert index.reads == 9
    again = fake_run(tmp_path, "MultiVAE", "aaa", 0.11, 42)
    assert sorted(r.keys["model"] for r in peers(again)) == ["DiffRec", "EASE", "MultiVAE"]
    assert index.reads == 10  # only the new run was read from its files
