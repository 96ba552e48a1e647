"""engine.records.notes: a run's user-set name and note, validated when read back."""
from __future__ import annotations

import json

import pytest

from engine.errors import InputError
from engine.records.notes import MAX_NAME, NOTES_FILE, Notes, read_notes, write_notes


def test_write_then_read_and_clear(tmp_path):
    assert read_notes(tmp_path) == Notes()  # none yet
    assert write_notes(tmp_path, "  base\nline  ", " tried lr 1e-4 \n") == Notes("base line", "tried lr 1e-4")
    assert read_notes(tmp_path) == Notes("base line", "tried lr 1e-4")
    assert not list(tmp_path.glob("*.tmp"))
    write_notes(tmp_path, "", "")
    assert read_notes(tmp_path) == Notes()


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"name": 3}', '{"note": ["x"]}', "x" * 70000])
def test_a_bad_file_reads_as_no_notes(tmp_path, text):
    (tmp_path / NOTES_FILE).write_text(text, encoding="utf-8")
    assert read_notes(tmp_path) == Notes()


def test_limits_and_a_missing_run(tmp_path):
    with pytest.raises(InputError, match="run name"):
        write_notes(tmp_path, "x" * (MAX_NAME + 1), "")
    with pytest.raises(InputError, match="not a run directory"):
        write_notes(tmp_path / "gone", "a", "")
    (tmp_path / NOTES_FILE).write_text(json.dumps({"name": "y" * 500, "note": "ok"}), encoding="utf-8")
    assert read_notes(tmp_path) == Notes("y" * MAX_NAME, "ok")  # a hand-edited long name is cut
