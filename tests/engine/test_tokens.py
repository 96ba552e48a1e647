"""The dataset's own ids: a run on atomic data records its token maps and titles
(tokens.json), reading them back validates them, and --inspect / --export-recs / the
Inspector speak them."""
from __future__ import annotations

import csv
import json

import pytest

from diffrec_tui.cli import main
from engine.records import tokens
from engine.errors import InputError


@pytest.fixture
def atomic_run(recbole_run):
    """A tiny RecBole-layout run (tests/conftest.py): users 1000, 1007, ..., items 500..539."""
    return recbole_run


def test_run_records_tokens_and_titles(atomic_run):
    doc = json.loads(atomic_run.tokens_file.read_text(encoding="utf-8"))
    assert doc["users"][:2] == ["1000", "1007"] and len(doc["users"]) == 60
    assert doc["items"][0] == "500" and doc["titles"][0] == "Film 0, The"


def test_inspect_by_the_datasets_user_id(atomic_run, capsys):
    assert main(["--inspect", str(atomic_run.path), "--user", "1007", "--topk", "5", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["user"] == "1007" and len(doc["items"]) == 5
    assert all(i.startswith("5") and len(i) == 3 for i in doc["items"])
    assert doc["names"][0].startswith("Film ") and doc["names"][0] == f"Film {int(doc['items'][0]) - 500}, The"
    assert main(["--inspect", str(atomic_run.path), "--user", "0"]) == 2
    assert "`0` is not a user of this run's dataset (its own ids, e.g. 1000, 1007" in capsys.readouterr().err


def test_export_holds_tokens_and_titles_and_rescores_to_the_test_metric(atomic_run, tmp_path, capsys):
    out = tmp_path / "recs.csv"
    assert main(["--export-recs", str(atomic_run.path), str(out), "--topk", "10"]) == 0
    rows = list(csv.DictReader(open(out, newline="", encoding="utf-8")))
    assert list(rows[0]) == ["user", "rank", "item", "title", "score"]
    assert {r["user"] for r in rows} == {str(1000 + 7 * u) for u in range(60)}
    assert all(r["title"] == f"Film {int(r['item']) - 500}, The" for r in rows)  # commas survive
    from engine.inspection.inspector import Inspector
    insp = Inspector(atomic_run.path)
    hits = recall = 0.0
    for u in range(insp.n_users):
        truth = {insp.item_id(i) for i in insp.ds.test[u].indices}
        mine = [r["item"] for r in rows if r["user"] == insp.user_id(u)]
        hits = len(truth & set(mine))
        recall += hits / len(truth) if truth else 0.0
    assert recall / insp.n_users == pytest.approx(atomic_run.summary()["test"]["recall@10"], abs=1e-6)


def test_inspector_finds_users_and_items_by_token(atomic_run):
    from engine.inspection.inspector import Inspector
    insp = Inspector(atomic_run.path)
    u = insp.find_user("1014")
    assert insp.user_id(u) == "1014" and insp.find_item("539") is not None
    assert insp.search_items("539")[0][1] == "Film 39, The"
    with pytest.raises(InputError, match="not a user"):
        insp.find_user("9")


@pytest.mark.parametrize("content, words", [
    ("{not json", "cannot be read"),
    ('{"users": ["a"], "items": []}', "lists 1 users, but the run has 2"),
    ('{"users": ["a", "a"], "items": ["x"]}', "repeats a token"),
    ('{"users": ["a", 2], "items": ["x"]}', "no list of users"),
    ('{"users": ["a", "b"], "items": ["x"], "titles": ["t", "u"]}', "lists 2 titles"),
    ("[1, 2]", "is not a token map"),
])
def test_damaged_token_maps_are_one_line_errors(tmp_path, content, words):
    f = tmp_path / "tokens.json"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as err:
        tokens.read(f, 2, 1)
    assert words in str(err.value) and str(f) in str(err.value) and "re-train" in str(err.value)


def test_no_token_map_means_dense_ids(tmp_path):
    assert tokens.read(tmp_path / "tokens.json", 3, 3) is None
