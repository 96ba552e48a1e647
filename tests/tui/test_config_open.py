"""Opening configs with errors (all shown inline), and saving only what the file had or the
user changed, into the file's own text with its comments."""
from __future__ import annotations

import pytest
import yaml
from textual.widgets import Input, Static

from diffrec_tui.state import Draft
from engine.config import schema as config_mod
from engine.errors import ConfigError
from tui_helpers import SIZE, config_ready, make_app, wait_for

BAD = """# my experiment
steps: lots        # how many diffusion steps
noice_scale: 0.1
sampling_noise: maybe
learning_rate: 0.001  # as in the paper
"""


def test_draft_opens_a_bad_file_with_every_problem(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    draft = Draft()
    draft.load(path)
    keys = {p.key for p in draft.problems}
    assert {"steps", "noice_scale", "sampling_noise"} <= keys
    assert "did you mean `noise_scale`" in draft.errors["noice_scale"]
    assert draft.raw["steps"] == "lots" and not draft.dirty and draft.path == path
    draft.set("steps", "7")
    draft.set("sampling_noise", True)
    assert {p.key for p in draft.problems} == {"noice_scale"}
    with pytest.raises(ConfigError):
        draft.resolved()  # a run still refuses an unknown key
    draft.save()  # saving drops it, keeps comments, changes only the edited lines
    text = path.read_text(encoding="utf-8")
    assert text.splitlines() == ["# my experiment", "steps: 7        # how many diffusion steps",
                                 "sampling_noise: true", "learning_rate: 0.001  # as in the paper"]
    assert draft.problems == [] and not draft.dirty


def test_save_as_writes_file_keys_and_changes_only(tmp_path):
    src = tmp_path / "src.yaml"
    src.write_text("# base\nmodel: DiffRec\nsteps: 5 # T\n", encoding="utf-8")
    draft = Draft()
    draft.load(src)
    draft.set("epochs", "7")
    out = draft.save(tmp_path / "out.yaml")
    saved = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert set(saved) == {"model", "steps", "epochs"}  # not all 75 keys
    assert out.read_text(encoding="utf-8").startswith("# base\nmodel: DiffRec\nsteps: 5 # T\n")
    assert config_mod.resolve(saved)["epochs"] == 7


def test_headless_resolve_reports_every_wrong_key():
    with pytest.raises(ConfigError) as exc:
        config_mod.resolve({"steps": "lots", "noice_scale": 0.1, "epochs": -3})
    msg = str(exc.value)
    assert "steps" in msg and "noice_scale" in msg and "epochs" in msg and "\n" not in msg  # one line, all three
    assert msg.count("; also ") == 2


async def test_app_opens_a_config_with_errors_inline(runs_dir, tmp_path):
    """As `diffrec-tui bad.yaml` does (cli.open_app): the app opens, the form marks each key."""
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    draft = Draft()
    draft.load(path)
    from diffrec_tui.app import DiffRecApp
    app = DiffRecApp(draft=draft, runs_dir=runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        await config_ready(pilot)
        screen = app.screen
        status = str(screen.query_one("#config-status", Static).render())
        assert "3 problem" in status and "noice_scale" in status
        assert screen.query_one("#field-steps", Input).value == "lots"
        assert screen.form.rows["steps"].control.has_class("-problem")
        await pilot.press("ctrl+r")  # blocked
        await pilot.pause()
        assert app.live is None


async def test_ctrl_o_opens_a_config_with_errors(runs_dir, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    app = make_app(runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        await config_ready(pilot)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: app.screen.query("#path"), what="the path prompt")
        app.screen.query_one("#path", Input).value = str(path)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.draft.path == path, what="the opened file")
        await pilot.pause()
        assert {"steps", "noice_scale", "sampling_noise"} <= set(app.draft.errors)
        assert app.screen.query_one("#field-steps", Input).value == "lots"
