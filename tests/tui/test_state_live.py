"""Unit tests of the app's non-UI parts: the edited config (Draft), the state folded from
events (RunState), the worker handle (LiveRun) and chart downsampling."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from diffrec_tui.live import LiveRun, RunState
from diffrec_tui.state import Draft, to_text
from diffrec_tui.widgets.charts import downsample
from engine.config import schema as config_mod
from engine.records.runs import RunDir
from engine.records.events import read_events
from tui_helpers import FINISHED, FIXTURE_RUNS, MID_RUN


def test_draft_round_trips_every_default_through_the_form_text():
    cfg = config_mod.defaults()
    draft = Draft(cfg, None)
    assert draft.problems == []
    assert not draft.dirty
    resolved = draft.resolved()
    for key, value in cfg.items():
        assert resolved[key] == value, key
    assert to_text(config_mod.SCHEMA["topk"], [10, 20]) == "[10, 20]"
    assert to_text(config_mod.SCHEMA["learning_rate"], 1e-05) == "1e-05"
    assert to_text(config_mod.SCHEMA["data_path"], None) == ""


def test_draft_problems_dirty_and_normalization():
    draft = Draft(config_mod.defaults(), None)
    draft.set("learning_rate", "1e-3")  # same value as 0.001: not dirty
    assert not draft.dirty and draft.problems == []
    draft.set("steps", "2")
    assert draft.dirty
    draft.set("sampling_steps", "3")  # cross-field: sampling_steps <= steps
    assert list(draft.errors) == ["sampling_steps"]
    with pytest.raises(config_mod.ConfigError, match="sampling_steps"):
        draft.resolved()
    draft.set("topk", "10, 20")
    draft.set("sampling_steps", "0")
    assert draft.resolved()["topk"] == [10, 20]
    draft.set("eval_args", "{split: {RS: [0.7, 0.2, 0.1]}}")  # a mapping typed as YAML flow text
    assert draft.resolved()["eval_args"] == {"split": {"RS": [0.7, 0.2, 0.1]}}
    draft.set("eval_args", "{split: [")
    assert "eval_args" in draft.errors


def test_draft_save_and_load(tmp_path):
    draft = Draft(config_mod.defaults(), None)
    with pytest.raises(config_mod.ConfigError, match="Save as"):
        draft.save()
    draft.set("steps", "7")
    path = draft.save(tmp_path / "c.yaml")
    assert yaml.safe_load(path.read_text())["steps"] == 7 and not draft.dirty
    other = Draft(config_mod.defaults(), None)
    other.load(path)
    assert other.raw["steps"] == "7" and other.path == path and not other.dirty
    (tmp_path / "bad.yaml").write_text("noice_scale: 0.1\n")
    other.load(tmp_path / "bad.yaml")  # issue 17: a config with errors opens, its problems shown
    assert "noise_scale" in other.errors["noice_scale"] and other.path == tmp_path / "bad.yaml"
    (tmp_path / "broken.yaml").write_text("steps: [1\n")
    with pytest.raises(config_mod.ConfigError, match="not valid YAML"):
        other.load(tmp_path / "broken.yaml")
    assert other.path == tmp_path / "bad.yaml"  # a failed load leaves the editor as it was


def test_preview_config_only_with_valid_schedule_keys():
    draft = Draft(config_mod.defaults(), None)
    assert draft.preview_config()["steps"] == 5
    draft.set("steps", "0")
    assert draft.preview_config() is None
    draft.set("steps", "9")
    draft.set("epochs", "x")  # a problem elsewhere does not hide the preview
    assert draft.preview_config()["steps"] == 9


def test_run_state_from_canned_events():
    cfg = yaml.safe_load((FIXTURE_RUNS / MID_RUN / "config.yaml").read_text())
    st = RunState(MID_RUN, cfg)
    for ev in read_events(FIXTURE_RUNS / MID_RUN / "events.jsonl"):
        st.apply(ev)
    assert st.status == "running" and st.active and st.epoch == 14 and st.total_epochs == 40
    # 26 epochs left at 1.8 s and 13 evaluations left at 0.7 s
    assert st.eta_seconds() == pytest.approx(26 * 1.8 + 13 * 0.7)
    xs, ys = st.series("recall@20", "valid")
    assert xs == list(range(2, 15, 2)) and ys == sorted(ys)
    assert st.ks() == [10, 20, 50]
    epoch, valid, test = st.best()
    assert epoch == 14 and valid["recall@20"] == ys[-1]
    st.mark_dead("gone")
    assert st.status == "dead" and not st.active and st.eta_seconds() is None


def test_run_state_finished_uses_the_final_event():
    run = FIXTURE_RUNS / FINISHED
    st = RunState(FINISHED, yaml.safe_load((run / "config.yaml").read_text()))
    for ev in read_events(run / "events.jsonl"):
        st.apply(ev)
    summary = json.loads((run / "summary.json").read_text())
    assert st.status == "finished" and st.best() == (summary["best_epoch"], summary["valid"], summary["test"])
    assert st.version == len(st.log) == len(read_events(run / "events.jsonl"))


def test_live_run_stop_then_kill_after_grace(tmp_path):
    """SIGINT first; a worker that ignores it is killed once the grace period is over."""
    run = RunDir.create(tmp_path, config_mod.defaults())
    code = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"up"
    live = LiveRun(run, proc)
    run.event("started", pid=proc.pid)
    assert live.poll() and live.state.status == "running"
    assert live.stop() and live.alive()
    assert not live.enforce_stop(grace=30.0)
    assert live.enforce_stop(grace=0.0) and live.killed
    proc.wait(timeout=10)
    live.poll()
    assert live.state.status == "dead" and "killed" in live.state.reason


def test_live_run_log_tail(tmp_path):
    run = RunDir.create(tmp_path, config_mod.defaults())
    run.log_file.write_text("\n".join(f"line {i}" for i in range(100)) + "\n")
    assert LiveRun(run).log_tail(3) == ["line 97", "line 98", "line 99"]


def test_downsample_keeps_ends_and_bounds_points():
    xs = list(range(1000))
    dx, dy = downsample(xs, [x * 2 for x in xs], 50)
    assert len(dx) == 50 and dx[0] == 0 and dx[-1] == 999 and dy == [x * 2 for x in dx]
    assert downsample([1, 2], [3, 4], 50) == ([1, 2], [3, 4])
