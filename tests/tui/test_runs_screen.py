"""Pilot tests of the Runs screen: filter, sort, compare, diff, edit, delete."""
from __future__ import annotations

from textual.widgets import Input, Static

from tui_helpers import FAILED, FINISHED, FINISHED_2, SIZE, make_app, wait_for


def ids(screen) -> list[str]:
    t = screen.table
    return [t.coordinate_to_cell_key((i, 0)).row_key.value for i in range(t.row_count)]


async def open_runs(pilot):
    await wait_for(pilot, lambda: pilot.app.current_mode == "runs" and pilot.app.screen.table.row_count == 5,
                   what="the runs table")
    return pilot.app.screen


async def select(pilot, screen, run_id: str) -> None:
    screen.table.move_cursor(row=screen.table.get_row_index(run_id), animate=False)
    await pilot.press("space")


async def test_filter_and_sort(runs_dir):
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        assert ids(screen)[0].startswith("20250302")  # newest first
        await pilot.press("slash")
        assert screen.query_one("#runs-filter", Input).has_focus
        await pilot.press(*"finished")
        await wait_for(pilot, lambda: screen.table.row_count == 2, what="the filter")
        assert set(ids(screen)) == {FINISHED, FINISHED_2}
        await pilot.press("escape")
        assert screen.table.has_focus
        screen.query_one("#runs-filter", Input).value = ""
        await wait_for(pilot, lambda: screen.table.row_count == 5, what="the cleared filter")

        # sort by the best valid metric, best first
        while screen.sort_key != "best":
            await pilot.press("o")
        assert ids(screen)[0] == FINISHED  # best valid recall@20 of all fixtures
        await pilot.press("r")
        assert ids(screen)[0] == FAILED and not screen.descending
        summary = str(screen.query_one("#runs-summary", Static).render())
        assert "sorted by best" in summary and "5 of 5 runs in runs" in summary


async def test_select_two_runs_overlays_curves_and_diffs_configs(runs_dir):
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        await select(pilot, screen, FINISHED)
        chart = screen.query_one("#overlay-chart")
        assert len(chart.series) == 1 and len(chart.series[0].xs) == 20  # eval_step 2 over 40 epochs
        assert "select exactly two" in str(screen.query_one("#runs-diff", Static).render())
        await select(pilot, screen, FINISHED_2)
        assert [len(s.xs) for s in chart.series] == [20, 10]
        diff = str(screen.query_one("#runs-diff", Static).render())
        for key in ("steps", "noise_scale", "learning_rate", "dims_dnn", "epochs", "eval_step"):
            assert key in diff
        assert "noise_schedule" not in diff  # same in both
        await pilot.press("c")
        assert screen.selected == [] and chart.series == []


async def test_edit_config_of_a_run_opens_it_in_the_editor(runs_dir):
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        screen.table.move_cursor(row=screen.table.get_row_index(FINISHED_2), animate=False)
        await pilot.press("e")
        await wait_for(pilot, lambda: app.current_mode == "config" and app.screen.ready, what="the editor")
        assert app.draft.path is None and app.draft.origin == f"from run {FINISHED_2}"
        assert app.draft.dirty
        assert app.screen.query_one("#field-steps", Input).value == "10"
        assert app.screen.query_one("#field-dims_dnn", Input).value == "[200, 600]"
        assert app.sub_title.startswith(f"from run {FINISHED_2} *")


async def test_delete_asks_first_and_refuses_running_runs(runs_dir):
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        screen.table.move_cursor(row=screen.table.get_row_index(FAILED), animate=False)
        await pilot.press("d")
        await wait_for(pilot, lambda: app.screen.query("#yes"), what="the confirmation")
        await pilot.press("n")
        await pilot.pause()
        assert (runs_dir / FAILED).is_dir()
        await pilot.press("d")
        await wait_for(pilot, lambda: app.screen.query("#yes"), what="the confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: not (runs_dir / FAILED).exists(), what="the deletion")
        await wait_for(pilot, lambda: screen.table.row_count == 4, what="the table refresh")
        # the mid-run fixture is alive (this process): deleting it is refused
        mid = next(r for r in screen.rows if r.info.status == "running")
        screen.table.move_cursor(row=screen.table.get_row_index(mid.id), animate=False)
        await pilot.press("d")
        await pilot.pause()
        assert not app.screen.query("#yes") and (runs_dir / mid.id).is_dir()


async def test_enter_opens_a_finished_run_on_the_train_screen(runs_dir):
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        screen.table.move_cursor(row=screen.table.get_row_index(FINISHED), animate=False)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "train", what="the train screen")
        assert app.live.id == FINISHED and app.live.state.status == "finished"
        await pilot.press("3")
        await wait_for(pilot, lambda: app.current_mode == "runs", what="the runs screen")
        assert screen.selected == []  # the runs screen kept its state


async def test_sweep_trials_named_ease_without_epochs_and_header_sort(runs_dir):
    """Issue 17: a sweep's trials carry the sweep's name; an EASE run shows no epochs and no
    diffusion columns; a click on a column's header sorts by it (status, model...)."""
    import json
    import shutil

    import yaml
    from textual.widgets import DataTable

    from tui_helpers import HERE
    shutil.copytree(HERE / "fixtures" / "sweeps" / "sweep-20250303-100000-hyper",
                    runs_dir / "sweep-20250303-100000-hyper")
    ease = runs_dir / "20250301-090000-EASE-synthetic"
    shutil.copytree(runs_dir / FINISHED, ease)
    cfg = yaml.safe_load((ease / "config.yaml").read_text(encoding="utf-8"))
    cfg["model"] = "EASE"
    (ease / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    events = (ease / "events.jsonl").read_text(encoding="utf-8").splitlines()  # fitted in one pass
    (ease / "events.jsonl").write_text("\n".join(e for e in events if '"type": "epoch"' not in e) + "\n",
                                       encoding="utf-8")
    summary = json.loads((ease / "summary.json").read_text(encoding="utf-8"))
    summary.update(epochs_run=0, best_epoch=0)
    (ease / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.screen.table.row_count > 6, what="the table")
        screen = app.screen
        trials = [r for r in screen.rows if r.cells[0].startswith("↳")]
        assert trials and all(r.cells[0].startswith("↳ hyper ") for r in trials)
        row = next(r for r in screen.rows if r.info.path == ease)
        cols = [key for _, key in __import__("diffrec_tui.screens.runs", fromlist=["COLUMNS"]).COLUMNS][1:]
        cell = dict(zip(cols, row.cells))
        assert cell["epochs"] == "-" and cell["steps"] == "-" and cell["noise"] == "-"
        for key in ("status", "model"):
            table = screen.table
            index = [c.key.value for c in table.ordered_columns].index(key)
            table.post_message(DataTable.HeaderSelected(table, table.ordered_columns[index].key, index,
                                                        table.ordered_columns[index].label))
            await wait_for(pilot, lambda: screen.sort_key == key, what=f"sorted by {key}")
            # runs outside sweeps in the column's order (a sweep's trials go under its group row)
            shown = [r.sort[key] for r in screen.visible() if hasattr(r, "sort") and not r.info.sweep]
            assert shown == sorted(shown, reverse=True)


async def test_overlay_metric_is_the_users_choice(runs_dir):
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        await select(pilot, screen, FINISHED)
        await select(pilot, screen, FINISHED_2)
        chart = screen.query_one("#overlay-chart")
        assert chart.title_text == "valid recall@20 per run"
        seen = set()
        for _ in range(4):
            await pilot.press("m")
            await pilot.pause()
            seen.add(chart.title_text)
        assert "valid ndcg@20 per run" in seen and len(seen) == 4  # every recorded metric@K in turn
        assert {s.marker for s in chart.series} == {"hd", "x"}  # two runs, two markers


async def test_sort_column_moves_with_keys(runs_dir):
    """Issue 17: > and < move the sort to the next and previous column (wrapping), besides
    header clicks and o; the table follows."""
    from diffrec_tui.screens.run_rows import SORT_KEYS
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        assert screen.sort_key == "started"
        await pilot.press("greater_than_sign")
        assert screen.sort_key == SORT_KEYS[SORT_KEYS.index("started") + 1]
        await pilot.press("less_than_sign", "less_than_sign")
        assert screen.sort_key == SORT_KEYS[SORT_KEYS.index("started") - 1] == "dataset"
        while screen.sort_key != "run":
            await pilot.press("less_than_sign")
        await pilot.press("less_than_sign")
        assert screen.sort_key == SORT_KEYS[-1]  # wraps round to the last column
        while screen.sort_key != "status":
            await pilot.press("greater_than_sign")
        shown = [r.sort["status"] for r in screen.visible()]
        assert shown == sorted(shown, reverse=True)
        assert [r.id for r in screen.visible()] == ids(screen)
        assert "sorted by status" in str(screen.query_one("#runs-summary", Static).render())


async def test_name_and_note_a_run(runs_dir):
    """Issue 17: N names a run and notes it; the name replaces the stamp in the run cell,
    the note shows in the summary and matches the filter, both survive a new app."""
    from engine.records.notes import read_notes
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        screen.table.move_cursor(row=screen.table.get_row_index(FINISHED), animate=False)
        await pilot.press("N")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "PathPrompt", what="the name prompt")
        await pilot.press(*"baseline lr", "enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "PathPrompt"
                       and "Note" in app.screen.title_text, what="the note prompt")
        await pilot.press(*"kept for the paper", "enter")
        await wait_for(pilot, lambda: app.screen is screen and read_notes(runs_dir / FINISHED).note, what="saved")
        assert read_notes(runs_dir / FINISHED).name == "baseline lr"
        assert str(screen.table.get_cell(FINISHED, "run")) == "baseline lr"
        assert "note: kept for the paper" in str(screen.query_one("#runs-summary", Static).render())
        screen.query_one("#runs-filter", Input).value = "paper"
        await wait_for(pilot, lambda: screen.table.row_count == 1, what="the filter on the note")
        assert ids(screen) == [FINISHED]
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        row = next(r for r in screen.rows if r.id == FINISHED)
        assert row.cells[0] == "baseline lr" and row.note == "kept for the paper"


async def test_sweeps_are_groups_that_fold(runs_dir):
    """Issue 17: a sweep is a group row named after it with its trials under it, in every
    sort; enter or space on the group row folds and unfolds them; runs still select."""
    import shutil

    from tui_helpers import HERE
    shutil.copytree(HERE / "fixtures" / "sweeps" / "sweep-20250303-100000-hyper",
                    runs_dir / "sweep-20250303-100000-hyper")
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.screen.settled
                       and app.screen.table.row_count > 6, what="the table")
        screen = app.screen
        group = "sweep:sweep-20250303-100000-hyper"
        trials = [r.id for r in screen.rows if r.info.sweep]
        assert trials
        for key in ("started", "status", "best"):
            screen.sort_key = key
            screen.render_table()
            await wait_for(pilot, lambda: screen.settled, what="the refill")
            shown = ids(screen)
            at = shown.index(group)
            assert shown[at + 1:at + 1 + len(trials)] == [r.id for r in screen._groups[group].trials]
            assert set(shown[at + 1:at + 1 + len(trials)]) == set(trials)
        assert str(screen.table.get_cell(group, "run")).startswith("▾ sweep hyper")
        screen.table.move_cursor(row=screen.table.get_row_index(group), animate=False)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.settled and screen.table.row_count == 6, what="folded")
        assert str(screen.table.get_cell(group, "run")).startswith("▸ sweep hyper")
        count = f"{len(screen.rows)} of {len(screen.rows)} runs"  # group rows are not runs; folded trials are
        assert count in str(screen.query_one("#runs-summary", Static).render())
        assert ids(screen)[screen.table.cursor_row] == group and not screen.selected
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.settled and screen.table.row_count == 6 + len(trials), what="unfolded")
        assert count in str(screen.query_one("#runs-summary", Static).render())
        assert not screen.selected and app.current_mode == "runs"
        await pilot.press("enter")  # folded again; then another screen shows one of its trials
        await wait_for(pilot, lambda: screen.settled and screen.table.row_count == 6, what="folded again")
        screen._target = next(r for r in screen.rows if r.id == trials[1]).info.path
        screen.show_highlighted()
        await wait_for(pilot, lambda: screen.settled and screen.current_row() is not None
                       and screen.current_row().id == trials[1], what="the trial, unfolded")
        await select(pilot, screen, trials[0])
        assert screen.selected == [trials[0]]


async def test_overlay_cursor_shows_each_runs_value(runs_dir):
    """Issue 17: on the overlay, , and . move a cursor over the epochs and the panel beside
    it lists each selected run's exact valid value there."""
    from diffrec_tui.widgets.charts import LineChart
    app = make_app(runs_dir, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        for run_id in (FINISHED, FINISHED_2):
            await select(pilot, screen, run_id)
        await wait_for(pilot, lambda: len(screen.selected) == 2, what="two runs")
        chart = screen.query_one("#overlay-chart", LineChart)
        await pilot.press("full_stop", "comma")
        xs = chart.cursor_xs()
        assert chart.cursor == xs[-2]
        text = str(screen.query_one("#runs-diff", Static).render())
        assert f"at epoch {xs[-2]:g}" in text and "config diff" in text
        for s in chart.series:
            y = [y for x, y in zip(s.xs, s.ys) if x <= chart.cursor][-1]
            assert f"{y:.4f}" in text and s.label in text
