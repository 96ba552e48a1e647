"""The palette's Screenshot saves into the runs directory (or the working directory when
there is none) and says where, instead of failing on a missing ~/Downloads."""
from __future__ import annotations

from tui_helpers import SIZE, make_app


async def test_screenshot_goes_to_runs_dir_then_cwd(runs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "nohome"))  # no ~/Downloads anywhere
    app = make_app(runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        saved = app.deliver_screenshot()
        await pilot.pause()
        assert saved and saved.startswith(str(runs_dir)) and saved.endswith(".svg")
        assert (runs_dir / saved.rsplit("/", 1)[-1]).read_text(encoding="utf-8").startswith("<svg")
        assert any(saved in n.message for n in app._notifications)

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    app = make_app(tmp_path / "no-runs-yet")
    async with app.run_test(size=SIZE) as pilot:
        saved = app.deliver_screenshot("shot.svg")
        await pilot.pause()
        assert saved == str(work / "shot.svg") and (work / "shot.svg").is_file()
