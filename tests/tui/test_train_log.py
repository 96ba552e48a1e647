"""The Train screen's event log: lines wrap (nothing cut), it scrolls back, `/` filters it;
the charts' log-y and smoothing keys."""
from __future__ import annotations

from textual.widgets import Input

from diffrec_tui.widgets.event_log import EventLog
from tui_helpers import FINISHED, SMALL, make_app, wait_for


async def test_log_wraps_scrolls_and_filters(runs_dir):
    app = make_app(runs_dir, start="train")
    async with app.run_test(size=SMALL) as pilot:
        app.open_run(runs_dir / FINISHED)
        await wait_for(pilot, lambda: app.screen.query(EventLog) and app.screen.query_one(EventLog).lines,
                       what="the log")
        await pilot.pause(0.3)
        log = app.screen.query_one(EventLog)
        evals = [x for x in log.lines if x.startswith("eval")]
        assert evals and len(evals[-1]) > log.view.size.width  # longer than the pane...
        rendered = "".join(strip.text for strip in log.view.lines)
        assert evals[-1].split()[-1] in rendered and "ndcg@20" in rendered  # ...and wrapped, not cut
        assert log.view.max_scroll_y > 0  # older lines are there to scroll back to
        log.view.scroll_home(animate=False)
        await pilot.pause()
        assert log.view.scroll_y == 0

        await pilot.press("slash")
        assert app.screen.query_one("#log-filter", Input).has_focus
        await pilot.press(*"checkpoint")
        await pilot.pause()
        assert log.shown() and all("checkpoint" in x for x in log.shown()), (log.pattern, len(log.lines))
        assert len(log.view.lines) == len(log.shown())
        await pilot.press("escape")
        assert not app.screen.query_one("#log-filter", Input).has_focus

        chart = app.screen.query_one("#recall-chart")
        await pilot.press("l", "m")
        await pilot.pause()
        assert chart.log_y and chart.smoothing == 0.6 and app.screen.query_one("#loss-chart").log_y
