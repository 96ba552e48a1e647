"""The Inspect screen on a real tiny trained run (trained once per session by
fixtures/make_inspect_run.py): picking a user, stepping through the reverse trajectory,
what-if edits, inline errors, and a snapshot. The model work runs in thread workers that
import torch; the checks compare what the screen shows with engine.inspection.inspector directly."""
from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import DataTable, Input, OptionList, Static

from tui_helpers import HERE, LARGE, REPO, SIZE, SMALL, make_app, wait_for

RUN_ID = "20250303-120000-DiffRec-synthetic"
NO_CKPT = "20250303-110000-DiffRec-synthetic"  # same config, never evaluated: no checkpoint.pt
USER = 7
LOAD_TIMEOUT = 120.0  # the first load imports torch, which takes a while on a busy machine


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """The tiny seeded run, trained once (about a second) and copied by each test."""
    sys.path.insert(0, str(HERE / "fixtures"))
    from make_inspect_run import make
    return make(tmp_path_factory.mktemp("inspect") / "runs")


@pytest.fixture
def inspect_runs(tmp_path, trained_run) -> Path:
    root = tmp_path / "runs"
    shutil.copytree(trained_run.parent, root)
    bare = root / NO_CKPT
    bare.mkdir()
    for name in ("config.yaml", "events.jsonl"):
        shutil.copy(root / RUN_ID / name, bare / name)
    # only the "started" event: the run never reached an evaluation
    first = (bare / "events.jsonl").read_text(encoding="utf-8").splitlines()[0]
    (bare / "events.jsonl").write_text(first + "\n", encoding="utf-8")
    return root


def ready(screen) -> bool:
    return type(screen).__name__ == "InspectScreen" and screen.view is not None and not screen.busy


async def loaded(pilot, user: int | None = None) -> None:
    await wait_for(pilot, lambda: ready(pilot.app.screen) and (user is None or pilot.app.screen.view.user == user),
                   timeout=LOAD_TIMEOUT, what=f"the inspect screen (user {user})")
    await pilot.pause(0.05)


async def pick_user(pilot, user: int) -> None:
    screen = pilot.app.screen
    screen.query_one("#insp-user", Input).value = str(user)
    screen.query_one("#insp-user", Input).focus()
    await pilot.press("enter")
    await wait_for(pilot, lambda: screen.error is not None or (ready(screen) and screen.view.user == user),
                   timeout=LOAD_TIMEOUT, what=f"user {user}")


def rows(table: DataTable, column: int = 0) -> list[str]:
    return [table.coordinate_to_cell_key((i, column)).row_key.value for i in range(table.row_count)]


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def history_of(screen, user: int) -> list[int]:
    return screen.insp.ds.history(user).tolist()


def test_screen_module_does_not_import_torch():
    """torch is imported by the screen's workers only: the module itself (imported by the
    help screen and the palette too) stays light."""
    code = ("import sys; import diffrec_tui.screens.inspect, diffrec_tui.widgets.score_chart; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


def test_curve_sorts_scores_and_places_marks_at_their_rank():
    from diffrec_tui.widgets.score_chart import curve
    vec = np.array([0.1, 0.9, 0.5, 0.5, -0.2, 0.7])
    c = curve(vec, {"history": np.array([1, 4]), "test": np.array([3]), "valid": np.array([], dtype=int)}, points=4)
    assert c.x.tolist() == [1, 2, 4, 6] and c.y.tolist() == [0.9, 0.7, 0.5, -0.2]  # first and last kept
    assert c.marks["history"][0].tolist() == [1, 6] and c.marks["history"][1].tolist() == [0.9, -0.2]
    assert c.marks["test"][0].tolist() == [4]  # ties keep item order: item 2 before item 3
    assert "valid" not in c.marks


# ---------------------------------------------------------------- snapshot

def test_snapshot_user(snap_compare, inspect_runs):
    """User 7 of the fixture run at the final step: history with T-DiffRec weights, the
    score chart with marks, the top-20 with hits, per-user metrics, best-served list."""
    async def run_before(pilot):
        await loaded(pilot)
        await pick_user(pilot, USER)
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.list_users and not screen.busy, timeout=LOAD_TIMEOUT, what="the list")
        screen.query_one("#insp-history").focus()
        await pilot.pause(0.3)

    assert snap_compare(make_app(inspect_runs, start="inspect"), terminal_size=SIZE, run_before=run_before)


def test_snapshot_user_80x24(snap_compare, inspect_runs):
    """80x24: the pickers and a score chart of full height; f6 then shows history, top-K
    and metrics side by side (each wide enough to read)."""
    async def run_before(pilot):
        await loaded(pilot)
        await pick_user(pilot, USER)
        await pilot.pause(0.3)

    assert snap_compare(make_app(inspect_runs, start="inspect"), terminal_size=SMALL, run_before=run_before)


def test_snapshot_user_80x24_lists(snap_compare, inspect_runs):
    async def run_before(pilot):
        await loaded(pilot)
        await pick_user(pilot, USER)
        await pilot.press("f6")
        await pilot.pause(0.3)

    assert snap_compare(make_app(inspect_runs, start="inspect"), terminal_size=SMALL, run_before=run_before)


def test_snapshot_user_200x60(snap_compare, inspect_runs):
    """200x60: the score chart, history and top-K grow into the room."""
    async def run_before(pilot):
        await loaded(pilot)
        await pick_user(pilot, USER)
        await pilot.pause(0.3)

    assert snap_compare(make_app(inspect_runs, start="inspect"), terminal_size=LARGE, run_before=run_before)


def test_snapshot_whatif(snap_compare, inspect_runs):
    """User 7 with the newest history item removed: the entering/leaving summary, rank
    changes in the top-K and the struck-out history row."""
    async def run_before(pilot):
        await loaded(pilot)
        await pick_user(pilot, USER)
        screen = pilot.app.screen
        screen.query_one("#insp-history").focus()
        await pilot.press("x")
        await wait_for(pilot, lambda: screen.whatif is not None and not screen.busy, timeout=LOAD_TIMEOUT,
                       what="the what-if")
        await pilot.pause(0.3)

    assert snap_compare(make_app(inspect_runs, start="inspect"), terminal_size=SIZE, run_before=run_before)


# ---------------------------------------------------------------- pilot

async def test_pick_user_by_id_and_from_lists(inspect_runs):
    app = make_app(inspect_runs, start="inspect")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        screen = app.screen
        assert screen.run_path.name == RUN_ID  # nothing selected: the newest run with a checkpoint
        await pick_user(pilot, USER)
        view = screen.view
        hist = history_of(screen, USER)
        assert [h.item for h in view.history] == hist
        # history newest first, top-K excludes it, hits flagged against the held-out items
        assert rows(screen.query_one("#insp-history", DataTable)) == [str(i) for i in reversed(hist)]
        top = screen.query_one("#insp-topk", DataTable)
        assert top.row_count == 20 and not set(rows(top)) & {str(i) for i in hist}
        expected = screen.insp.user(USER, 20)
        assert rows(top) == [str(r.item) for r in expected.top]
        info = text(screen, "#insp-info")
        m = expected.metrics["test"]
        assert f"{m['recall@20']:.4f}" in info and f"{m['ndcg@20']:.4f}" in info and f"user {USER}" in info

        # best-served users by per-user test Recall@20; choosing one inspects it
        await wait_for(pilot, lambda: screen.list_users and "list" not in screen._busy, timeout=LOAD_TIMEOUT,
                       what="the best-served list")
        best = [u.value for u in screen.list_users]
        assert best == sorted(best, reverse=True)
        users = screen.query_one("#insp-users", OptionList)
        users.focus()
        users.highlighted = 3
        await pilot.press("enter")
        chosen = screen.list_users[3].user
        await loaded(pilot, chosen)
        assert screen.query_one("#insp-history", DataTable).row_count == len(history_of(screen, chosen))

        # l: worst-served next, worst first
        await pilot.press("l")
        await wait_for(pilot, lambda: screen.list_mode == "worst" and screen.list_users and not screen.busy,
                       timeout=LOAD_TIMEOUT, what="the worst-served list")
        worst = [u.value for u in screen.list_users]
        assert worst == sorted(worst) and worst[0] <= best[-1]

        # a user out of range: an inline one-line error, the shown user stays
        await pick_user(pilot, 9999)
        assert "user: 9999 is out of range; this run's dataset has users 0..149" in text(screen, "#insp-message")
        assert screen.view.user == chosen


async def test_big_run_ranks_users_on_request_in_batches(inspect_runs, monkeypatch):
    """Above AUTO_RANK_COST the lists wait for `l`; the pass then runs in batches and
    reports its progress; afterwards the lists switch without another pass."""
    from diffrec_tui.screens.inspect import screen as screen_mod
    monkeypatch.setattr(screen_mod, "AUTO_RANK_COST", 0)
    monkeypatch.setattr(screen_mod, "RANK_BATCH_SCORES", 80 * 40)  # 40 of the 150 users a batch
    app = make_app(inspect_runs, start="inspect")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        screen = app.screen
        users = screen.query_one("#insp-users", OptionList)
        assert not screen.ranked and users.option_count == 1
        assert "press l to rank all 150 users" in str(users.get_option_at_index(0).prompt)
        progress = []
        shown = screen._rank_progress
        monkeypatch.setattr(screen, "_rank_progress", lambda t, d, n: (progress.append(d), shown(t, d, n)))
        await pilot.press("l")
        await wait_for(pilot, lambda: screen.ranked and screen.list_users and not screen.busy,
                       timeout=LOAD_TIMEOUT, what="the ranking")
        assert screen.list_mode == "best" and progress == [40, 80, 120]
        best = [u.value for u in screen.list_users]
        assert best == sorted(best, reverse=True) and users.option_count == len(best)
        await pilot.press("l")
        await wait_for(pilot, lambda: screen.list_mode == "worst" and screen.list_users and not screen.busy,
                       what="the worst-served list")
        assert progress == [40, 80, 120]  # no second pass


async def test_step_through_the_trajectory(inspect_runs):
    app = make_app(inspect_runs, start="inspect")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pick_user(pilot, USER)
        screen = app.screen
        screen.query_one("#insp-history").focus()  # step keys work from the tables too
        chart = screen.query_one("#insp-chart")
        view = screen.view
        steps = view.steps
        assert steps == 5 and screen.step == steps
        np.testing.assert_array_equal(chart.vector, view.scores)  # opens on the final scores
        assert f"step {steps}/{steps}: final scores" in text(screen, "#insp-step")

        seen = [chart.render()]
        for i in range(steps - 1, -1, -1):
            await pilot.press("comma" if i % 2 else "left_square_bracket")
            assert screen.step == i
            expected = view.input if i == 0 else view.trajectory[i - 1]
            np.testing.assert_array_equal(chart.vector, expected)
            assert f"step {i}/{steps}" in text(screen, "#insp-step")
            await pilot.pause()
            seen.append(chart.render())
        assert "the input" in text(screen, "#insp-step")
        assert len({str(r) for r in seen}) == len(seen)  # every step drew another picture
        await pilot.press("comma")
        assert screen.step == 0  # stops at the input

        await pilot.press("full_stop", "right_square_bracket")
        assert screen.step == 2
        await pilot.press("f")
        assert screen.step == steps
        # the last step is the vector the top-K was ranked by
        vec = chart.vector.astype(np.float64).copy()
        np.testing.assert_array_equal(vec, view.trajectory[-1])
        vec[[h.item for h in view.history]] = -np.inf
        vec[view.valid_items] = -np.inf  # issue 11: one ranking, the test metric's
        order = np.argsort(-vec, kind="stable")[:20]
        assert rows(screen.query_one("#insp-topk", DataTable)) == [str(i) for i in order]


async def test_topk_and_metrics_follow_the_step(inspect_runs):
    """Issue 17: stepping back changes the top-K list and the per-user metrics to that
    step's ranking; the numpy metrics agree with the engine's at the final vector."""
    from dataclasses import replace

    from diffrec_tui.screens.inspect.state import Shown
    app = make_app(inspect_runs, start="inspect")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pick_user(pilot, USER)
        screen = app.screen
        screen.query_one("#insp-history").focus()
        view = screen.view
        final_rows = rows(screen.query_one("#insp-topk", DataTable))
        for _ in range(view.steps):
            await pilot.press("comma")
        await pilot.pause()
        assert screen.step == 0
        top = screen.query_one("#insp-topk", DataTable)
        vec = view.input.astype(np.float64).copy()
        vec[[h.item for h in view.history]] = -np.inf
        vec[view.valid_items] = -np.inf
        expected = [str(i) for i in np.argsort(-vec, kind="stable")[:view.topk] if np.isfinite(vec[i])]
        assert rows(top) == expected and rows(top) != final_rows
        assert "at step 0/5" in str(top.border_title)
        assert f"(step 0/{view.steps})" in text(screen, "#insp-info")
        await pilot.press("f")
        await pilot.pause()
        assert rows(screen.query_one("#insp-topk", DataTable)) == final_rows

        # the same formulas as engine.metrics at the final vector (one extra step that repeats it)
        longer = replace(view, trajectory=view.trajectory + [view.trajectory[-1]])
        again = Shown(screen.insp, longer, step=view.steps).stepped()
        assert [r.item for r in again.top] == [r.item for r in view.top]
        for split in ("test", "valid"):
            for key in (f"recall@{view.topk}", f"ndcg@{view.topk}"):
                assert again.metrics[split][key] == pytest.approx(view.metrics[split][key], abs=1e-6)


async def test_whatif_remove_add_and_reset(inspect_runs):
    app = make_app(inspect_runs, start="inspect")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pick_user(pilot, USER)
        screen = app.screen
        original = screen.view
        hist = history_of(screen, USER)
        before_top = rows(screen.query_one("#insp-topk", DataTable))
        newest = hist[-1]

        # x on the first history row (the newest item) removes it from the what-if
        table = screen.query_one("#insp-history", DataTable)
        table.focus()
        table.move_cursor(row=0)
        await pilot.press("x")
        await wait_for(pilot, lambda: screen.whatif is not None and not screen.busy, timeout=LOAD_TIMEOUT,
                       what="the what-if")
        w = screen.whatif
        assert w.removed == [newest] and w.added == []
        assert [h.item for h in w.after.history] == hist[:-1]
        after_top = rows(screen.query_one("#insp-topk", DataTable))
        assert after_top == [str(r.item) for r in w.after.top] and after_top != before_top
        assert str(newest) in after_top  # no longer history: it is a candidate again
        info = text(screen, "#insp-info")
        assert f"what-if −1 +0: {len(w.entering)} in, {len(w.leaving)} out" in info
        assert w.entering and w.leaving
        for c in w.leaving:
            assert str(c.item) not in after_top
        # the original view, the dataset and the history panel's item list are untouched
        assert screen.view is original and [h.item for h in original.history] == hist
        assert history_of(screen, USER) == hist
        assert rows(table) == [str(i) for i in reversed(hist)]

        # a: search an item by id and add it (it counts as the newest interaction)
        extra = next(i for i in range(screen.insp.n_items) if i not in hist)
        await pilot.press("a")
        assert screen.query_one("#insp-add", Input).has_focus
        await pilot.press(*str(extra))
        await wait_for(pilot, lambda: screen.query_one("#insp-found", OptionList).option_count > 0, what="matches")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.whatif is not None and screen.whatif.added == [extra]
                       and not screen.busy, timeout=LOAD_TIMEOUT, what="the added item")
        w = screen.whatif
        assert [h.item for h in w.after.history] == hist[:-1] + [extra]
        assert str(extra) not in rows(screen.query_one("#insp-topk", DataTable))
        assert rows(table)[0] == str(extra)
        assert "what-if −1 +1" in text(screen, "#insp-info")

        # adding an item already in the history is refused inline, under the add field (issue 17)
        screen.add(hist[0])
        await pilot.pause()
        assert "already in user 7's history" in text(screen, "#insp-add-error")
        assert screen.query_one("#insp-add-error").display
        assert "already in" not in text(screen, "#insp-message")  # not at the top, far from the input

        # z resets: the original top-K is back
        await pilot.press("escape", "z")
        await wait_for(pilot, lambda: screen.whatif is None and not screen.busy, what="the reset")
        assert rows(screen.query_one("#insp-topk", DataTable)) == before_top
        assert screen.removed == [] and screen.added == []


async def test_errors_inline_and_ui_stays_responsive(inspect_runs, monkeypatch):
    """A selected run without a checkpoint and a run whose data changed show one-line
    errors; while a run loads (slowed down here) the keys keep working."""
    import torch

    changed = inspect_runs / "20250303-130000-DiffRec-synthetic"
    shutil.copytree(inspect_runs / RUN_ID, changed)
    ckpt = torch.load(changed / "checkpoint.pt", weights_only=True)
    ckpt["fingerprint"] = "0" * 16
    torch.save(ckpt, changed / "checkpoint.pt")

    app = make_app(inspect_runs, start="runs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: pilot.app.screen.table.row_count == 3, what="the runs table")
        runs = app.screen
        runs.table.move_cursor(row=runs.table.get_row_index(NO_CKPT), animate=False)
        await pilot.press("4")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "InspectScreen" and app.screen.error,
                       what="the no-checkpoint error")
        screen = app.screen
        assert f"run {NO_CKPT} has no checkpoint.pt" in text(screen, "#insp-message")
        assert screen.insp is None and screen.view is None

        # p: the list offers only runs with a checkpoint; the changed-data one fails inline
        await pilot.press("p")
        ol = screen.query_one("#insp-runs", OptionList)
        await wait_for(pilot, lambda: ol.option_count == 2, what="the runs listed (in a worker)")
        assert ol.has_focus and ol.option_count == 2
        ol.highlighted = [o.id for o in ol.options].index(str(changed.resolve()))
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.error and "changed since run" in screen.error and not screen.busy,
                       timeout=LOAD_TIMEOUT, what="the data-changed error")
        assert "restore the data or re-train" in text(screen, "#insp-message")
        assert "Traceback" not in text(screen, "#insp-message")

        # a slow load: the screen shows it is loading and keys still act meanwhile
        gate = threading.Event()
        real = screen.inspector
        monkeypatch.setattr(screen, "inspector", lambda path: (gate.wait(30), real(path))[1])
        ol.highlighted = [o.id for o in ol.options].index(str((inspect_runs / RUN_ID).resolve()))
        ol.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.busy and screen.query_one("#insp-chart").loading, what="loading")
        assert "loading run" in text(screen, "#insp-message")
        t0 = time.monotonic()
        await pilot.press("1")
        await wait_for(pilot, lambda: app.current_mode == "config", what="the config page")
        await pilot.press("4")
        await wait_for(pilot, lambda: app.current_mode == "inspect", what="back")
        assert screen.busy and time.monotonic() - t0 < 10
        gate.set()
        await loaded(pilot)
        assert screen.error is None and screen.insp.path.name == RUN_ID


# ---------------------------------------------------------------- the dataset's own ids

@pytest.fixture
def token_run(recbole_run) -> Path:
    return recbole_run.path.parent


def cells(table: DataTable, column: int) -> list[str]:
    return [str(table.get_cell_at((i, column))) for i in range(table.row_count)]


async def test_screen_speaks_the_datasets_ids(token_run):
    app = make_app(token_run, start="inspect")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: ready(pilot.app.screen), timeout=LOAD_TIMEOUT, what="the run")
        screen = app.screen
        screen.query_one("#insp-user", Input).value = "1007"  # the data set's user, not dense id 7
        screen.query_one("#insp-user", Input).focus()
        await pilot.press("enter")
        u = screen.insp.find_user("1007")
        await wait_for(pilot, lambda: ready(screen) and screen.view.user == u, timeout=LOAD_TIMEOUT, what="1007")
        top = screen.query_one("#insp-topk", DataTable)
        assert cells(top, 1) == [str(screen.insp.item_id(r.item)) for r in screen.view.top]
        assert all(500 <= int(t) < 540 for t in cells(top, 1))
        assert cells(top, 2)[0].startswith("Film ")  # titles from the .item file
        hist = cells(screen.query_one("#insp-history", DataTable), 2)
        assert set(hist) == {str(screen.insp.item_id(h.item)) for h in screen.view.history}
        assert "user 1007" in text(screen, "#insp-info")
        screen.query_one("#insp-user", Input).value = "7"
        screen.query_one("#insp-user", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.error is not None, what="the error")
        assert "`7` is not a user of this run's dataset" in text(screen, "#insp-message")
