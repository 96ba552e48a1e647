"""The line chart's reading aids: integer ticks, markers, legend outside the data, a single
point drawn visibly, log-y and TensorBoard-style smoothing."""
from __future__ import annotations

from textual.app import App

from diffrec_tui.widgets.charts import LineChart, Series, integer_ticks, smooth


def test_integer_ticks_and_smoothing():
    assert integer_ticks(1, 40) == [1, 7, 13, 19, 25, 31, 37]
    assert integer_ticks(2, 4) == [2, 3, 4]
    assert all(isinstance(t, int) for t in integer_ticks(0.5, 3.5))
    assert smooth([1.0, 1.0, 1.0], 0.9) == [1.0, 1.0, 1.0]  # debiased: no ramp from zero
    s = smooth([0.0, 10.0, 0.0, 10.0], 0.6)
    assert s[0] == 0.0 and max(s) < 10.0 and smooth([3.0, 4.0], 0.0) == [3.0, 4.0]


class ChartApp(App):
    def compose(self):
        yield LineChart("Recall@20", "epoch", integer_x=True, id="c")


async def test_chart_markers_legend_single_point_log_and_smooth():
    app = ChartApp()
    async with app.run_test(size=(70, 16)) as pilot:
        chart = app.query_one(LineChart)
        chart.show([Series("valid", [1, 2, 3, 4], [0.1, 0.2, 0.25, 0.3], "green", "hd"),
                    Series("test", [1, 2, 3, 4], [0.12, 0.18, 0.3, 0.28], "orange", "x")])
        await pilot.pause()
        text = str(chart.render())
        lines = text.splitlines()
        assert "━ valid" in lines[0] and "x test" in lines[0]  # the legend is the title row, above the frame
        assert "x" in "".join(lines[2:-3])  # test's own marker in the data area
        ticks = lines[-2].split()
        assert ticks == ["1", "2", "3", "4"]  # whole epochs, never 1.25

        chart.show([Series("valid", [2], [0.2], "green"), Series("test", [2], [0.21], "orange", "x")])
        await pilot.pause()
        body = "\n".join(str(chart.render()).splitlines()[2:-3])
        assert "●" in body and "x" in body  # one evaluation: two visible points inside the frame

        chart.show([Series("loss", [1, 2, 3], [1000.0, 10.0, 1.0])])
        chart.set_view(log_y=True, smoothing=0.6)
        await pilot.pause()
        assert "log y" in str(chart.render()).splitlines()[0] and "smoothed 0.6" in str(chart.render())


def test_close_sweep_points_are_spread_across_their_category():
    from diffrec_tui.widgets.scatter import spread
    assert spread([0.0, 1.0, 0.0, 0.0]) == [-0.25, 1.0, 0.0, 0.25]  # three on category 0, one alone
    assert spread([2.0]) == [2.0]


async def test_train_cursor_shows_exact_values(runs_dir):
    """Issue 17: , and . move a value cursor over the epochs; the side box shows each
    series' recorded value there (the events' own numbers), and the charts mark it."""
    from textual.widgets import Static

    from diffrec_tui.live import LiveRun
    from diffrec_tui.widgets.charts import LineChart
    from tui_helpers import FINISHED, SIZE, make_app, wait_for
    app = make_app(runs_dir, start="train")
    async with app.run_test(size=SIZE) as pilot:
        app.open_run(runs_dir / FINISHED)
        await wait_for(pilot, lambda: app.live is not None and app.live.state.evals
                       and app.screen.query("#run-best"), what="the run")
        await pilot.pause(0.2)
        st = app.live.state
        await pilot.press("full_stop")  # the first press: the last epoch
        assert app.screen.cursor == st.epochs[-1]
        await pilot.press("comma", "comma")
        epoch = app.screen.cursor
        assert epoch == st.epochs[-3]
        box = str(app.screen.query_one("#run-best", Static).render())
        assert f"at epoch {epoch:g}" in box
        loss = st.losses[st.epochs.index(epoch)]
        assert f"loss" in box and f"{loss:.4f}" in box
        xs, ys = st.series("recall@20", "valid")
        before = [y for x, y in zip(xs, ys) if x <= epoch]
        assert f"{before[-1]:.4f}" in box  # the latest evaluation at or before the cursor
        chart = app.screen.query_one("#loss-chart", LineChart)
        assert chart.cursor == epoch
