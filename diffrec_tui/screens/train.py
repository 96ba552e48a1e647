"""Train screen: start/stop, live loss and metric@K charts (the valid_metric's and the next
headline metric's, e.g. Recall and NDCG, or RecBole's MRR and NDCG), progress with ETA, event log.

The app polls the followed run on a timer (about 10 Hz); this screen redraws only when the
run's state moved, and only while it is visible.
"""
from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Header, Static

from diffrec_tui.live import LiveRun, RunState, valid_key
from diffrec_tui.widgets.charts import SMOOTHING, LineChart, Series, step_cursor, values_text
from diffrec_tui.widgets.event_log import EventLog
from diffrec_tui.widgets.keybar import KeyBar
from diffrec_tui.widgets.nav import NavBar
from diffrec_tui.widgets.panes import OFF, PANE_BINDING, Panes

BAR_WIDTH = 30
STATUS_STYLE = {"running": "$accent", "starting": "$accent", "finished": "$success",
                "stopped": "$warning", "failed": "$error", "dead": "$error"}


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{sec:02d}s" if m else f"{sec}s")


def progress_text(st: RunState) -> str:
    if not st.epochs and st.evals and not st.active:  # a closed-form model: fitted in one pass
        return f"fitted in one pass (no training epochs)  took {fmt_seconds(sum(st.eval_seconds))} to evaluate"
    total = st.total_epochs or 1
    done = min(st.epoch, total)
    filled = int(BAR_WIDTH * done / total)
    bar = "█" * filled + "░" * (BAR_WIDTH - filled)
    eta = st.eta_seconds()
    trained = sum(st.epoch_seconds) + sum(st.eval_seconds)
    loss = f"loss {st.losses[-1]:.4f}" if st.losses else "loss -"
    tail = f"ETA {fmt_seconds(eta)}" if st.active else f"took {fmt_seconds(trained)}"
    return f"epoch {done}/{total} {bar} {100 * done // total:3d}%  {loss}  {tail}"


LABELS = {"recall": "Recall", "ndcg": "NDCG", "mrr": "MRR", "precision": "Precision", "hit": "Hit"}


def chart_metrics(st: RunState) -> list[str]:
    """The two charted metric names: the valid_metric's, then the next headline metric's
    (NDCG, Recall), then any other the run computes."""
    computed = [k.partition("@")[0] for k in st.metric_keys()]
    names = [k.partition("@")[0] for k in st.headline if not computed or k.partition("@")[0] in computed]
    return list(dict.fromkeys(names + computed))[:2]


class TrainScreen(Panes, Screen):
    PANES = ("#loss-chart", "#recall-chart", "#ndcg-chart")  # one at a time on a short terminal
    pane = 1  # the valid_metric's chart first
    BINDINGS = [
        Binding("s", "app.start_run", "Start", id="train.start"),
        Binding("x", "app.stop_run", "Stop", id="train.stop"),
        Binding("k", "next_k", "Next K", id="train.next_k"),
        Binding("l", "log_y", "Log y", id="train.log_y"),
        Binding("m", "smoothing", "Smooth", id="train.smoothing"),
        Binding("slash", "filter_log", "Filter log", id="train.filter_log"),
        Binding("comma", "cursor(-1)", "Cursor ←", show=False, id="train.cursor_prev"),
        Binding("full_stop", "cursor(1)", "Cursor →", show=False, id="train.cursor_next"),
        Binding("escape", "leave_filter", "Leave filter", id="train.leave_filter", show=False),
        PANE_BINDING,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.k: int | None = None
        self._drawn: tuple | None = None  # (run id, version, k) on screen
        self._logged = (None, 0)
        self.cursor: float | None = None  # the epoch whose exact values the side table shows

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield NavBar("train")
        yield Static(id="run-status")
        yield Static(id="run-progress")
        with Horizontal(id="train-charts"):
            yield LineChart("training loss", "epoch", empty="waiting for the first epoch", integer_x=True,
                            id="loss-chart")
            with Vertical(id="metric-charts"):  # ids kept: the valid_metric's chart, then the next metric's
                yield LineChart("Recall@K", "epoch", empty="waiting for the first evaluation", integer_x=True,
                                id="recall-chart")
                yield LineChart("NDCG@K", "epoch", empty="waiting for the first evaluation", integer_x=True,
                                id="ndcg-chart")
        with Horizontal(id="train-bottom"):
            yield EventLog(id="event-log")
            yield Static(id="run-best")
        yield Static(id="run-failure")
        yield KeyBar()

    def on_mount(self) -> None:
        self.show_pane(self.pane)
        self._fit(self.app.size.height)
        self.redraw()

    def on_resize(self, event) -> None:
        self._fit(event.size.height)

    def _fit(self, height: int) -> None:
        # Charts first: on a short terminal the event log gives up rows (9 from 42 rows up).
        self.query_one("#train-bottom").styles.height = max(6, min(9, (height - 6) // 4))

    def show_pane(self, index: int) -> None:
        super().show_pane(index)
        self.query_one("#metric-charts").set_class(self.pane == 0, OFF)

    def on_screen_resume(self) -> None:
        self.redraw()

    def action_next_k(self) -> None:
        live = self.app.live
        ks = live.state.ks() if live else [20]
        cur = self.current_k(live.state) if live else 20
        self.k = ks[(ks.index(cur) + 1) % len(ks)] if cur in ks else ks[0]
        self.redraw()

    def action_filter_log(self) -> None:
        self.query_one(EventLog).start_filter()

    def action_leave_filter(self) -> None:
        self.query_one(EventLog).end_filter()

    def charts(self) -> list[LineChart]:
        return [self.query_one(c, LineChart) for c in ("#loss-chart", "#recall-chart", "#ndcg-chart")]

    def action_log_y(self) -> None:
        for chart in self.charts():
            chart.set_view(log_y=not chart.log_y)

    def action_smoothing(self) -> None:
        """Cycle the EMA weight (0, 0.6, 0.9) of every chart, as TensorBoard's slider."""
        for chart in self.charts():
            chart.set_view(smoothing=SMOOTHING[(SMOOTHING.index(chart.smoothing) + 1) % len(SMOOTHING)])

    def action_cursor(self, step: int) -> None:
        """Move the value cursor an epoch on every chart; the side table shows its values."""
        charts = self.charts()
        self.cursor = step_cursor([x for c in charts for x in c.cursor_xs()], self.cursor, step)
        for chart in charts:
            chart.set_cursor(self.cursor)
        self.redraw(force=True)

    def current_k(self, st: RunState) -> int:
        """The K chosen with `k`, else the valid_metric's K, else 20, else the first."""
        ks = st.ks()
        valid_k = int(st.headline[0].partition("@")[2] or 0)
        for k in (self.k, valid_k, 20):
            if k in ks:
                return k
        return ks[0]

    # ------------------------------------------------------------ drawing

    def redraw(self, force: bool = False) -> None:
        if not self.query("#run-status"):
            return  # not composed yet: on_mount draws
        live: LiveRun | None = self.app.live
        if live is None:
            self._draw_idle()
            return
        st = live.state
        k = self.current_k(st)
        key = (st.run_id, st.version, k, live.stop_requested_at is not None)
        if key == self._drawn and not force:
            return
        self._drawn = key
        self._draw_status(live, st)
        self.query_one("#run-progress", Static).update(progress_text(st))
        self._draw_charts(st, k)
        self._draw_log(st)
        self._draw_best(st, k)
        self._draw_failure(live, st)

    def _draw_idle(self) -> None:
        if self._drawn == ("idle",):
            return
        self._drawn = ("idle",)
        self.query_one("#run-status", Static).update(
            "[b]No run yet.[/b] Press [b]s[/b] (or ctrl+r anywhere) to train the config being edited, "
            "or open a run from the Runs screen (3).")
        self.query_one("#run-progress", Static).update("")
        self.query_one("#loss-chart", LineChart).show([], empty="waiting for the first epoch")
        for cid in ("#recall-chart", "#ndcg-chart"):
            self.query_one(cid, LineChart).show([])
        self.query_one(EventLog).clear()
        self._logged = (None, 0)
        self.query_one("#run-best", Static).update("")
        self.query_one("#run-failure", Static).display = False

    def _draw_status(self, live: LiveRun, st: RunState) -> None:
        cfg = st.config
        style = STATUS_STYLE.get(st.status, "$foreground")
        status = st.status + (" (stopping...)" if live.stop_requested_at and st.active else "")
        d = st.started.get("dataset") or {}
        size = f"{d.get('n_users')} users x {d.get('n_items')} items" if d else "loading data..."
        parts = [f"[b]{escape(st.run_id)}[/b]", f"[b {style}]{escape(status)}[/]",
                 f"{escape(str(cfg.get('model', '?')))} on {escape(str(cfg.get('dataset', '?')))} ({size})"]
        if st.started:
            parts.append(f"{escape(str(st.started.get('device')))}, {st.started.get('parameters', 0):,} parameters")
        self.query_one("#run-status", Static).update("  ·  ".join(parts))

    def _draw_charts(self, st: RunState, k: int) -> None:
        one_pass = not st.epochs and not st.active and bool(st.evals)  # a closed-form model
        self.query_one("#loss-chart", LineChart).show(
            [Series("loss", st.epochs, st.losses, "cyan")],
            empty="none (fitted in one pass)" if one_pass else "waiting for the first epoch")
        names = chart_metrics(st)
        for i, cid in enumerate(("#recall-chart", "#ndcg-chart")):
            if i >= len(names):
                self.query_one(cid, LineChart).show([], title="", empty="no other metric computed")
                continue
            metric = f"{names[i]}@{k}"
            series = [Series(f"{split} {metric}", *st.series(metric, split), color, marker)  # markers: not colour alone
                      for split, color, marker in (("valid", "green", "hd"), ("test", "orange", "x"))]
            self.query_one(cid, LineChart).show(series, title=f"{LABELS.get(names[i], names[i])}@{k}")

    def _draw_log(self, st: RunState) -> None:
        log = self.query_one(EventLog)
        run_id, shown = self._logged
        total = st.version  # one log line per applied event (plus mark_dead)
        if run_id != st.run_id:
            log.clear()
            shown = 0
        new = total - shown
        if new > 0:
            lines = list(st.log)[-min(new, len(st.log)):]
            log.write_lines(lines)
        self._logged = (st.run_id, total)

    def _draw_best(self, st: RunState, k: int) -> None:
        epoch, valid, test = st.best()
        if not valid:
            self.query_one("#run-best", Static).update(f"best ({valid_key(st.config)}): no evaluation yet")
            return
        rows = [f"[b]best epoch {epoch}[/b] by {valid_key(st.config)}", "metric        valid    test"]
        for key in valid:
            if key.endswith(f"@{k}"):
                rows.append(f"{key:<12} {valid[key]:.4f}  {test.get(key, float('nan')):.4f}")
        at = values_text(self.charts(), self.cursor, note=f"best epoch {epoch}")  # the cursor's, in the same box
        self.query_one("#run-best", Static).update(at or "\n".join(rows))

    def _draw_failure(self, live: LiveRun, st: RunState) -> None:
        box = self.query_one("#run-failure", Static)
        if st.status not in ("failed", "dead"):
            box.display = False
            return
        tail = live.log_tail(10)
        text = f"[b $error]✗ run {st.status}:[/] {escape(st.reason or 'no reason given')}"
        if tail:
            text += f"\n[dim]{live.run.log_file.name} (last lines):[/]\n" + escape("\n".join(tail))
        box.update(text)
        box.display = True
