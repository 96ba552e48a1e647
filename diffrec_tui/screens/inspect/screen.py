"""Inspect screen: what did a trained model do to one user?

Pick a run (the app's selected run by default) and a user (by id or from the best-,
worst-served or random users by per-user Recall@20); see the user's history, the score
vector at each step of the reverse diffusion (the input, every reverse step, the final
scores), the top-K with hits against the held-out items and the user's Recall/NDCG@K.
What-if: remove history items or add items, re-denoise, and see how the top-K moved.

All model work runs in Textual thread workers (`@work(thread=True, exclusive=True)`, one
group per kind of request: a new request cancels the one it supersedes, whose answer is
then dropped) through engine.inspection.inspector.Inspector, one per run, cached (loading.py). torch
is imported inside those workers only, so the app starts and paints without it. The
panels (panels.py, pickers.py) draw what this screen hands them.
"""
from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Header, OptionList

from engine.errors import InputError

from diffrec_tui.widgets.keybar import KeyBar
from diffrec_tui.widgets.panes import PANE_BINDING, Panes
from diffrec_tui.widgets.nav import NavBar
from diffrec_tui.screens.inspect.actions import InspectActions
from diffrec_tui.screens.inspect.loading import InspectorCache, inspectable
from diffrec_tui.screens.inspect.panels import HistoryPanel, MetricsPanel, ScorePanel, TopKTable
from diffrec_tui.screens.inspect.pickers import MessageLine, RunHeader, RunPicker, UserField, UserList
from diffrec_tui.screens.inspect.state import Shown
from diffrec_tui.screens.inspect.workers import InspectWorkers

LIST_SIZE = 50  # users per best/worst/random list
LIST_MODES = ("best", "worst", "random")
SEED = 0  # the sampling seed of every view (matters only with sampling_noise)
AUTO_RANK_COST = 10**8  # users x items x steps up to which the lists fill on their own
RANK_BATCH_SCORES = 1 << 20  # users per all-users batch: about this many scores
KINDS = ("run", "user", "whatif", "list")  # the kinds of request, one worker group each


class InspectScreen(InspectActions, InspectWorkers, Panes, Screen):
    PANES = ("#insp-top", "#insp-bottom")  # one at a time on a short terminal
    LIST_MODES = LIST_MODES
    CSS_PATH = Path(__file__).resolve().parent / "inspect.tcss"
    BINDINGS = [
        Binding("comma,left_square_bracket,left", "step(-1)", "Step back", id="inspect.step_prev"),
        Binding("full_stop,right_square_bracket,right", "step(1)", "Step fwd", id="inspect.step_next"),
        Binding("f", "final_step", "Final step", id="inspect.step_final", show=False),
        Binding("u", "focus_user", "User", id="inspect.user"),
        Binding("l", "next_list", "List", id="inspect.list"),
        Binding("p", "pick_run", "Run", id="inspect.run"),
        Binding("x", "toggle_item", "Remove", id="inspect.whatif_toggle"),
        Binding("a", "add_item", "Add item", id="inspect.whatif_add"),
        Binding("z", "reset_whatif", "Reset", id="inspect.whatif_reset"),
        Binding("k", "next_k", "Next K", id="inspect.next_k"),
        Binding("g", "toggle_log", "Log x", id="inspect.log_x", show=False),
        Binding("escape", "leave_input", "Leave field", id="inspect.leave", show=False),
        PANE_BINDING,
    ]

    def __init__(self) -> None:
        super().__init__()
        self._cache = InspectorCache()
        self._busy: dict[str, str] = {}  # kind -> what it is doing (shown on the message line)
        self._followed: Path | None = None  # the app's selected run when last looked at
        self._picking = False  # p was pressed: say so if no run can be picked
        self.run_path: Path | None = None
        self.insp = None  # engine.inspection.inspector.Inspector of run_path (once loaded)
        self.user: int | None = None
        self.view = None  # UserView of the user, unedited
        self.whatif = None  # WhatIf of the current edits, or None
        self.removed: list[int] = []
        self.added: list[int] = []
        self.step = 0  # 0 = the input, 1..S = after reverse step i (S = the final scores)
        self.k = 20
        self.log_x: bool | None = None  # None: by the number of items
        self.list_mode = LIST_MODES[0]
        self.list_users: list = []
        self._random_seed = 0
        self.error: str | None = None
        self.ranked = False  # the run's all-users table is computed (the lists are instant)

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        blink = not self.app.is_headless
        yield Header(show_clock=False)
        yield NavBar("inspect")
        yield RunHeader(id="insp-run")
        yield MessageLine(id="insp-message")
        with Horizontal(id="insp-top"):
            with Vertical(id="insp-side"):
                yield RunPicker(id="insp-runs")
                yield UserField(blink, id="insp-user")
                yield UserList(id="insp-users")
            yield ScorePanel(id="insp-plot")
        with Horizontal(id="insp-bottom"):
            yield HistoryPanel(blink, id="insp-hist-box")
            yield TopKTable(id="insp-topk", cursor_type="row", zebra_stripes=True)
            yield MetricsPanel(id="insp-info")
        yield KeyBar()

    @property
    def runs(self) -> list:
        """The inspectable runs (RunInfos), newest first, as last listed."""
        return self.query_one(RunPicker).runs

    @property
    def history_table(self):
        return self.query_one(HistoryPanel).table

    def on_mount(self) -> None:
        self.show_pane(self.pane)
        self._draw_all()
        self.history_table.focus()

    def on_screen_resume(self) -> None:
        self.refresh_runs()
        selected = self.app.selected_run()
        if selected != self._followed:  # the Runs table or the Train screen moved on: follow
            self._followed = selected
            if selected is not None and selected != self.run_path:
                self.load_run(selected)

    def on_run_picker_loaded(self, event: RunPicker.Loaded) -> None:
        self._draw_runs()
        if self._picking and not event.runs:
            self.show_error(f"no run under {self.app.runs_dir} has a checkpoint yet; train one (ctrl+r)")
        elif self.run_path is None and event.runs:
            self.load_run(event.runs[0].path)  # nothing selected: the newest inspectable run
        elif self.run_path is None:
            self.show_error("no run to inspect: train one (ctrl+r) or pick a runs directory with finished runs")
        self._picking = False

    # ------------------------------------------------------------ background work

    def inspector(self, path: Path):
        """The run's Inspector, loaded once per checkpoint file (runs in a worker)."""
        return self._cache.get(path)

    busy = property(lambda self: bool(self._busy))

    # ------------------------------------------------------------ requests

    def refresh_runs(self) -> None:
        self.query_one(RunPicker).reload(self.app.runs_dir)

    def load_run(self, path: Path) -> None:
        path = Path(path)
        self._cancel(*KINDS)
        self.run_path, self.insp, self.view, self.whatif = path, None, None, None
        self.ranked = False
        self.removed, self.added, self.list_users = [], [], []
        self.error = None
        why = inspectable(path)
        self._draw_all()
        if why:
            self.show_error(why)
            return
        self._submit("run", f"loading run {path.name}...", self._run_worker, path)

    def _run_loaded(self, insp) -> None:
        self.insp = insp
        ks = self.ks()
        self.k = 20 if 20 in ks else ks[0]
        self.log_x = None
        user = self.user if self.user is not None and self.user < insp.n_users else 0
        self._draw_runs()
        self._draw_header()
        self.load_user(user)
        self.load_list()

    def load_user(self, user: int, keep_edits: bool = False) -> None:
        insp = self.insp
        if insp is None:
            self.show_error("inspect: no run loaded yet; pick a run with a checkpoint (p)")
            return
        try:
            user = insp.check_user(user)
        except InputError as exc:
            self.show_error(str(exc))
            return
        self._cancel("whatif")
        if not keep_edits or user != self.user:
            self.removed, self.added = [], []
        self.user, self.whatif, self.error = user, None, None
        k = self.k
        self._submit("user", f"denoising user {user}...", self._user_worker, lambda: insp.user(user, k, SEED))

    def _user_loaded(self, view) -> None:
        self.view = view
        self.step = view.steps
        self._draw_view()
        if self.removed or self.added:
            self.rerun_whatif()

    def rerun_whatif(self) -> None:
        insp, view = self.insp, self.view
        if insp is None or view is None:
            return
        if not self.removed and not self.added:
            self._cancel("whatif")
            self.whatif = None
            self.step = view.steps
            self._draw_view()
            return
        removed, added = list(self.removed), list(self.added)
        # Panels redraw when the answer is in (a few tens of ms): redrawing them now would
        # only hold the UI thread while the worker waits to start.
        self._submit("whatif", "re-denoising the edited history...", self._whatif_worker,
                     lambda: insp.what_if(view.user, removed, added, view.topk, SEED, before=view))

    def _whatif_done(self, result) -> None:
        self.whatif = result
        self.step = result.after.steps
        self._draw_view()

    def load_list(self, force: bool = False) -> None:
        """Fill the users list. It needs every user's Recall@20 (one scoring pass over all
        users, then cached by the Inspector): automatic on small runs, on request (l) on
        big ones, where the pass takes a while and a core."""
        insp = self.insp
        if insp is None:
            return
        self.list_users = []
        cost = insp.n_users * insp.n_items * max(1, int(insp.cfg.get("steps") or 1))
        if not (force or self.ranked or cost <= AUTO_RANK_COST):
            self._draw_list()
            return
        mode, seed = self.list_mode, self._random_seed
        fetch = {"best": lambda: insp.best_users(LIST_SIZE), "worst": lambda: insp.worst_users(LIST_SIZE),
                 "random": lambda: insp.random_users(LIST_SIZE, seed)}[mode]
        batch = max(1, RANK_BATCH_SCORES // insp.n_items)
        self._submit("list", f"ranking all {insp.n_users:,} users by Recall@20...", self._list_worker,
                     insp, fetch, batch)
        self._draw_list()

    def _list_loaded(self, users) -> None:
        self.ranked = True
        self.list_users = users
        self._draw_list()

    # ------------------------------------------------------------ state helpers

    def ks(self) -> list[int]:
        if self.insp is None:
            return [20]
        return sorted(k for k in {*self.insp.cfg["topk"], 20} if k <= self.insp.n_items) or [self.insp.n_items]

    def snapshot(self) -> Shown:
        return Shown(self.insp, self.view, self.whatif, tuple(self.removed), tuple(self.added), self.step,
                     self.log_x)

    @property
    def shown(self):
        """The view on screen: the what-if when there are edits, else the user's own."""
        return self.whatif.after if self.whatif is not None else self.view

    def show_error(self, text: str) -> None:
        self.error = text
        self._draw_message()

    def clear_error(self) -> None:
        if self.error is not None:
            self.error = None
            self._draw_message()

    # ------------------------------------------------------------ drawing

    def _draw_all(self) -> None:
        if not self.is_mounted:
            return
        self._draw_runs()
        self._draw_list()
        self._draw_view()

    def _draw_view(self) -> None:
        """Everything that depends on the shown user (not the run and user lists)."""
        if not self.is_mounted:
            return
        self._draw_header()
        self._draw_message()
        self._publish(ScorePanel, HistoryPanel, TopKTable, MetricsPanel)
        self._draw_loading()
        self.refresh_bindings()

    def _publish(self, *panels) -> None:
        """Hand the panels (their classes) a new snapshot of what they show."""
        shown = self.snapshot()
        for panel in panels:
            self.query_one(panel).shown = shown

    def _draw_chart(self) -> None:
        self._publish(ScorePanel)

    def _draw_tables(self) -> None:
        if self.is_mounted:
            self._publish(HistoryPanel, TopKTable)

    def on_resize(self, event) -> None:
        if self.insp is not None and self.insp.has_titles:  # the name columns take what fits
            self.call_after_refresh(self._draw_tables)

    def _draw_header(self) -> None:
        self.query_one(RunHeader).show(self.run_path, self.insp)

    def _draw_message(self) -> None:
        if self.is_mounted:
            self.query_one(MessageLine).show(self.error, self._busy)

    def _draw_loading(self) -> None:
        if not self.is_mounted:
            return
        heavy = "run" in self._busy or "user" in self._busy
        self.query_one(ScorePanel).chart.loading = heavy
        self.query_one(TopKTable).loading = heavy or "whatif" in self._busy
        self.query_one(UserList).loading = "list" in self._busy

    def _draw_runs(self) -> None:
        self.query_one(RunPicker).show(self.run_path)

    def _draw_list(self) -> None:
        self.query_one(UserList).show(self.list_mode, self.list_users, self.insp, self.ranked,
                                      "list" in self._busy)

    # ------------------------------------------------------------ events

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        oid = event.option.id
        if isinstance(event.option_list, RunPicker) and oid:
            if Path(oid) != (self.run_path.resolve() if self.run_path else None):
                self.load_run(Path(oid))
        elif isinstance(event.option_list, UserList) and oid and self.insp is not None:
            self.query_one(UserField).value = str(self.insp.user_id(int(oid)))
            self.load_user(int(oid))
        elif event.option_list is self.query_one(HistoryPanel).found and oid:
            self.add(int(oid))
