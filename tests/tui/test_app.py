"""App-level tests: no torch in the UI process, page registry, help, command palette."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from tui_helpers import FINISHED, REPO, SIZE, make_app, wait_for


def test_import_and_first_paint_do_not_load_torch(tmp_path):
    """Import the app and paint the Config screen in a fresh interpreter: torch stays out."""
    code = textwrap.dedent(f"""
        import asyncio, sys
        from diffrec_tui.app import DiffRecApp
        from engine.config import files as config
        assert "torch" not in sys.modules, "import loaded torch"

        async def main():
            app = DiffRecApp(config=config.load("configs/default.yaml"), config_path="configs/default.yaml",
                             runs_dir={str(tmp_path)!r})
            async with app.run_test(size=(120, 40)) as pilot:
                while not app.screen.ready:
                    await pilot.pause(0.02)
                app.screen.query_one("#field-steps").value = "9"  # the preview redraws too
                await pilot.pause(0.1)
        asyncio.run(main())
        print("torch" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"


async def test_number_keys_switch_pages_and_keep_their_state(runs_dir):
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        assert [p.key for p in app.pages()][:3] == ["1", "2", "3"]
        await wait_for(pilot, lambda: app.screen.table.row_count == 5, what="the runs table")
        runs = app.screen
        # a digit typed into a text field edits it; it does not switch screens
        await pilot.press("slash", "2", "0", "2", "5")
        assert app.current_mode == "runs" and runs.query_one("#runs-filter").value == "2025"
        await pilot.press("escape", "2")
        await wait_for(pilot, lambda: app.current_mode == "train", what="train")
        await pilot.press("3")
        await wait_for(pilot, lambda: app.current_mode == "runs", what="runs")
        assert app.screen is runs and runs.query_one("#runs-filter").value == "2025"  # state kept
        # the tabs under the header switch pages with the mouse too
        nav = app.screen.query_one("#nav")
        x = str(nav.render()).index("2 Train") + 1 + 1  # +1 for the bar's left padding
        await pilot.click("#nav", offset=(x, 0))
        await wait_for(pilot, lambda: app.current_mode == "train", what="train by click")


async def test_help_lists_bindings_of_every_screen(runs_dir):
    app = make_app(runs_dir, start="train")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen", what="help")
        text = "\n".join(str(w.render()) for w in app.screen.query(".help-column"))
        for words in ("Everywhere", "1 Config screen", "2 Train screen", "3 Runs screen", "ctrl+s",
                      "Save as", "Stop", "Next K", "Attach/open", "Delete", "ctrl+r"):
            assert words in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "TrainScreen", what="back")


async def search(pilot, text: str) -> None:
    """Type into the palette's search box (as a paste: one search, not one per key)."""
    from textual.command import CommandInput
    pilot.app.screen.query_one(CommandInput).value = text
    await pilot.pause(0.5)


async def test_command_palette_switches_screen_and_opens_run(runs_dir):
    app = make_app(runs_dir, start="train")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette", what="the palette")
        await search(pilot, "switch to runs")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "runs", what="the runs screen")

        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette", what="the palette")
        await search(pilot, f"open run {FINISHED[:15]}")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "train" and app.live is not None, what="the run")
        assert app.live.id == FINISHED


async def test_a_page_shown_later_looks_as_when_the_app_starts_on_it(runs_dir):
    """A page first shown after another (3 from Config) is styled as its widgets mount, not by
    a stylesheet refresh of the whole app (issue 19): it renders as when the app starts on it."""
    async def runs_page(**kw) -> str:
        app = make_app(runs_dir, **kw)
        async with app.run_test(size=SIZE) as pilot:
            if app.current_mode != "runs":
                await pilot.pause(0.2)
                await pilot.press("3")
            await wait_for(pilot, lambda: app.screen.table.row_count == 5 and app.screen.settled, what="the runs table")
            await pilot.pause(0.3)
            return app.export_screenshot()  # the text and every colour and style

    assert await runs_page() == await runs_page(start="runs")
