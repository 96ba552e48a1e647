"""Issue 17: the open and save-as path fields complete paths (Textual's Input suggester)."""
from __future__ import annotations

from textual.widgets import Input

from diffrec_tui.widgets.path_suggester import complete
from tui_helpers import SIZE, config_ready, make_app, wait_for


def make_tree(root):
    (root / "configs").mkdir()
    (root / "configs" / "diffrec_ml1m.yaml").write_text("model: DiffRec\n", encoding="utf-8")
    (root / "configs" / "diffrec_ml100k.yaml").write_text("model: DiffRec\n", encoding="utf-8")
    (root / "configs" / "ease.yml").write_text("model: EASE\n", encoding="utf-8")
    (root / "configs" / "notes.txt").write_text("x", encoding="utf-8")
    (root / "configs" / ".hidden.yaml").write_text("x", encoding="utf-8")
    (root / "runs").mkdir(exist_ok=True)


def test_complete_files_folders_and_common_prefixes(tmp_path):
    make_tree(tmp_path)
    yaml = (".yaml", ".yml")
    assert complete("con", tmp_path, yaml) == "configs/"  # a folder gets its slash
    assert complete("configs/e", tmp_path, yaml) == "configs/ease.yml"
    assert complete("configs/d", tmp_path, yaml) == "configs/diffrec_ml1"  # the common prefix first
    assert complete("configs/diffrec_ml1", tmp_path, yaml) == "configs/diffrec_ml100k.yaml"  # then the first
    assert complete("configs/n", tmp_path, yaml) is None  # not a config file
    assert complete("configs/n", tmp_path) == "configs/notes.txt"  # without a suffix filter
    assert complete("configs/.h", tmp_path, yaml) == "configs/.hidden.yaml"  # hidden only when asked
    assert complete("configs/ease.yml", tmp_path, yaml) is None  # complete already
    assert complete("nowhere/x", tmp_path, yaml) is None
    assert complete(str(tmp_path / "configs" / "e"), tmp_path / "runs", yaml) == str(tmp_path / "configs" / "ease.yml")


async def test_open_prompt_completes_with_the_right_arrow(runs_dir, tmp_path, monkeypatch):
    make_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    app = make_app(runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        await config_ready(pilot)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: app.screen.query("#path"), what="the path prompt")
        field = app.screen.query_one("#path", Input)
        assert field.value == "configs/"
        await pilot.press("e")
        await wait_for(pilot, lambda: field._suggestion == "configs/ease.yml", what=f"the suggestion")

        await pilot.press("right")
        assert field.value == "configs/ease.yml"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.draft.path is not None and app.draft.path.name == "ease.yml",
                       what="the opened file")
        assert app.draft.model == "EASE"
