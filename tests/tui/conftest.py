"""Fixtures for the app tests: canned runs copied to tmp_path and a fixed time zone."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from tui_helpers import FIXTURE_RUNS, MID_RUN


@pytest.fixture(autouse=True)
def utc():
    """Start times render in UTC whatever the machine's zone (stable snapshots)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.fixture
def runs_dir(tmp_path) -> Path:
    """The canned runs, with the mid-run fixture's worker pid set to this (live) process."""
    root = tmp_path / "runs"
    shutil.copytree(FIXTURE_RUNS, root)
    events = root / MID_RUN / "events.jsonl"
    lines = events.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["pid"] = os.getpid()
    events.write_text("\n".join([json.dumps(first)] + lines[1:]) + "\n", encoding="utf-8")
    return root
