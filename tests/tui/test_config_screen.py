"""Pilot tests of the Config screen: inline validation, model-specific keys, save/load."""
from __future__ import annotations

import yaml
from textual.widgets import Input, Select, Static

from engine.config import schema as config_mod
from engine import untrusted
from tui_helpers import config_ready, make_app, wait_for


def label(screen, key: str) -> str:
    return str(screen.form.rows[key].label.render())


async def type_into(pilot, key: str, text: str) -> None:
    """Focus a field, clear it and type `text` key by key, as a user would."""
    screen = pilot.app.screen
    screen.form.focus_field(key)
    await pilot.pause()
    inp = screen.query_one(f"#field-{key}", Input)
    assert inp.has_focus
    inp.value = ""
    await pilot.press(*text)
    await pilot.pause()


async def test_edit_error_shown_blocks_start_then_fixed(runs_dir):
    app = make_app(runs_dir)
    async with app.run_test(size=(140, 42)) as pilot:
        await config_ready(pilot)
        screen = app.screen
        await type_into(pilot, "noise_min", "0.05")  # above noise_max (0.01): a cross-field rule
        assert "noise_min" in app.draft.errors
        assert "must be < noise_max" in label(screen, "noise_min")
        assert screen.form.rows["noise_min"].control.has_class("-problem")
        status = str(screen.query_one("#config-status", Static).render())
        assert "1 problem" in status

        before = sorted(p.name for p in runs_dir.iterdir())
        await pilot.press("ctrl+r")  # blocked: no run directory is created
        await pilot.pause()
        assert sorted(p.name for p in runs_dir.iterdir()) == before
        assert app.current_mode == "config"

        await type_into(pilot, "noise_min", "0.005")
        assert app.draft.errors == {}
        assert "✗" not in label(screen, "noise_min")
        assert not screen.form.rows["noise_min"].control.has_class("-problem")
        assert "valid" in str(screen.query_one("#config-status", Static).render())

        # now ctrl+r starts a worker on the edited config and shows the Train screen
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.current_mode == "train" and app.live is not None, what="the run")
        live = app.live
        try:
            assert live.proc is not None and live.run.path.parent == runs_dir
            assert untrusted.read_yaml(live.run.config_file)["noise_min"] == 0.005
        finally:
            live.proc.kill()  # this test is about the editor; real runs are in test_train_screen
            live.proc.wait()


async def set_value(pilot, key: str, value: str) -> None:
    """Set a text field as a paste would (one Changed event) and let the screen react."""
    pilot.app.screen.query_one(f"#field-{key}", Input).value = value
    await wait_for(pilot, lambda: pilot.app.draft.raw[key] == value, what=f"the edit of {key}")
    await pilot.pause()


async def test_values_are_parsed_checked_previewed_and_model_keys_hidden(runs_dir):
    app = make_app(runs_dir)
    async with app.run_test(size=(140, 42)) as pilot:
        await config_ready(pilot)
        chart = app.screen.query_one("#beta-chart")
        assert len(chart.series[0].xs) == 5
        await set_value(pilot, "steps", "abc")
        assert "not an integer" in app.draft.errors["steps"]
        assert chart.series == []  # no preview while a schedule key is wrong
        await set_value(pilot, "steps", "12")
        assert len(chart.series[0].xs) == 12  # the preview follows the diffusion keys
        await set_value(pilot, "dims_dnn", "[200, 600")  # unclosed list: a message, not a crash
        assert "dims_dnn" in app.draft.errors
        await set_value(pilot, "dims_dnn", "200, 600")  # brackets are optional
        assert "dims_dnn" not in app.draft.errors
        await set_value(pilot, "valid_metric", "Recall@7")  # not among metrics x topk
        assert "valid_metric" in app.draft.errors
        await set_value(pilot, "valid_metric", "NDCG@10")
        await set_value(pilot, "noise_max", "0.001")  # now below noise_min
        assert chart.series == [] and "noise_min" in app.draft.errors
        await set_value(pilot, "noise_max", "0.02")
        cfg = app.draft.resolved()
        assert cfg["steps"] == 12 and cfg["dims_dnn"] == [200, 600] and cfg["valid_metric"] == "NDCG@10"
        assert len(chart.series[0].xs) == 12

        # keys that do not apply to the selected model are hidden (built when first needed)
        rows = app.screen.form.rows
        ldiffrec_only = [f.name for f in config_mod.SCHEMA.values() if f.models == ("LDiffRec",)]
        assert ldiffrec_only and not any(app.screen.query(f"#field-{k}") for k in ldiffrec_only)
        assert rows["steps"].control.display
        app.screen.query_one("#field-model", Select).value = "LDiffRec"
        await wait_for(pilot, lambda: app.draft.model == "LDiffRec", what="the model change")
        await pilot.pause()
        assert all(rows[k].control.display and rows[k].control.is_mounted for k in ldiffrec_only)
        # built in schema order: n_cate right after w_max in the Model group
        group = list(app.screen.query_one("#group-model").children)
        assert group.index(rows["n_cate"].label) == group.index(rows["w_max"].control) + 1
        # a baseline: its own keys appear, the diffusion keys and their group go
        app.screen.query_one("#field-model", Select).value = "EASE"
        await wait_for(pilot, lambda: app.draft.model == "EASE", what="the model change")
        await pilot.pause()
        assert rows["reg_weight"].control.display
        assert not rows["steps"].control.display and not rows["dims_dnn"].control.display
        assert not app.screen.query_one("#group-diffusion").display
        assert rows["learning_rate"].control.display and rows["topk"].control.display
        assert chart.series == [] and "no diffusion in EASE" in chart.title_text
        app.screen.query_one("#field-model", Select).value = "DiffRec"
        await wait_for(pilot, lambda: app.draft.model == "DiffRec", what="the model change")
        assert not any(rows[k].control.display for k in ldiffrec_only)
        assert rows["steps"].control.display and app.screen.query_one("#group-diffusion").display


async def test_save_as_overwrite_confirmation_and_load(runs_dir, tmp_path):
    target = tmp_path / "mine.yaml"
    other = tmp_path / "other.yaml"
    other.write_text("steps: 3\n", encoding="utf-8")
    app = make_app(runs_dir)
    async with app.run_test(size=(140, 42)) as pilot:
        await config_ready(pilot)
        assert not app.draft.dirty and " *" not in app.sub_title
        await set_value(pilot, "steps", "7")
        assert app.draft.dirty and app.sub_title.startswith("default.yaml *")

        await pilot.press("f2")  # save as a new file
        await wait_for(pilot, lambda: app.screen.query("#path"), what="the path prompt")
        app.screen.query_one("#path", Input).value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, target.exists, what="the saved file")
        saved = yaml.safe_load(target.read_text(encoding="utf-8"))
        assert saved["steps"] == 7 and saved["noise_schedule"] == "linear-var"
        assert config_mod.resolve(saved)["steps"] == 7  # a complete, valid config
        assert not app.draft.dirty and app.draft.path == target and " *" not in app.sub_title

        await pilot.press("f2")  # save as an existing file: asks first
        await wait_for(pilot, lambda: app.screen.query("#path"), what="the path prompt")
        app.screen.query_one("#path", Input).value = str(other)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.query("#yes"), what="the overwrite question")
        await pilot.press("n")
        await pilot.pause()
        assert other.read_text(encoding="utf-8") == "steps: 3\n"
        await pilot.press("f2")
        await wait_for(pilot, lambda: app.screen.query("#path"), what="the path prompt")
        app.screen.query_one("#path", Input).value = str(other)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.query("#yes"), what="the overwrite question")
        await pilot.press("y")
        await wait_for(pilot, lambda: yaml.safe_load(other.read_text(encoding="utf-8")).get("model") == "DiffRec",
                       what="the overwritten file")

        # Load: edits are discarded only after a confirmation, then the file's values show.
        await set_value(pilot, "steps", "9")
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: app.screen.query("#discard"), what="the save/discard question")
        await pilot.press("d")
        await wait_for(pilot, lambda: app.screen.query("#path"), what="the path prompt")
        app.screen.query_one("#path", Input).value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.draft.raw["steps"] == "7", what="the loaded config")
        await pilot.pause()
        assert app.screen.query_one("#field-steps", Input).value == "7"
        assert not app.draft.dirty


async def test_open_bad_file_shows_message(runs_dir, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [1, 2\n", encoding="utf-8")
    app = make_app(runs_dir, start="train")
    async with app.run_test(size=(140, 42)) as pilot:
        assert app.load_config(bad) is False
        assert app.draft.path.name == "default.yaml"
        await pilot.pause()
        notes = [n.message for n in app._notifications]
        assert any("not valid YAML" in m for m in notes)
