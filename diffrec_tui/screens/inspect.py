"""Inspect screen: what did a trained model do to one user?

Pick a run (the app's selected run by default) and a user (by id or from the best-,
worst-served or random users by per-user Recall@20); see the user's history, the score
vector at each step of the reverse diffusion (the input, every reverse step, the final
scores), the top-K with hits against the held-out items and the user's Recall/NDCG@K.
What-if: remove history items or add items, re-denoise, and see how the top-K moved.

All model work runs in Textual thread workers through engine.inspection.inspector.Inspector (one per
run, cached). torch is imported inside those workers only, never by this module, so the
app starts and paints without it. Results come back to the UI thread tagged with a
request number: an answer to a request that was superseded meanwhile is dropped.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np
from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from engine.errors import InputError

from diffrec_tui.widgets.keybar import KeyBar
from diffrec_tui.widgets.nav import NavBar
from diffrec_tui.widgets.score_chart import ScoreChart
from diffrec_tui.screens.runs import scan, short_id

LIST_SIZE = 50  # users per best/worst/random list
LIST_MODES = ("best", "worst", "random")
RANK_METRIC = "recall@20"  # what the lists rank by (engine.inspection.inspector.RANK_METRIC)
SEED = 0  # the sampling seed of every view (matters only with sampling_noise)
CACHE_RUNS = 3  # Inspectors kept (each holds a run's dataset and model)
LOG_X_ITEMS = 150  # above this many items the chart's x axis starts in log scale
SEARCH_LIMIT = 20
LOADING_DELAY = 0.25  # seconds a request may take before its panels show a loading indicator
AUTO_RANK_COST = 10**8  # users x items x steps up to which the lists fill on their own
RANK_BATCH_SCORES = 1 << 20  # users per all-users batch: about this many scores
NAME_WIDTH = 24  # item-name column before the table has a size; then what fits, at least:
MIN_NAME_WIDTH = 10

_torch_lock = threading.Lock()
_torch_ready = False


def _torch_setup() -> None:
    """First call in a worker: one torch thread. Single-user denoising is a handful of small
    matrix products; more threads only add contention with the UI and other processes."""
    global _torch_ready
    with _torch_lock:
        if not _torch_ready:
            import torch
            torch.set_num_threads(1)
            _torch_ready = True


class _Abandoned(Exception):
    """Raised inside a worker to stop a computation nobody waits for any more."""


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def inspectable(path: Path) -> str | None:
    """Why a run directory cannot be inspected (None if it can), checked without torch."""
    if not path.is_dir():
        return f"inspect: {path}: no such run directory; pick another run (p)"
    if not (path / "checkpoint.pt").is_file():
        return (f"inspect: run {path.name} has no checkpoint.pt (it has not finished an evaluation); "
                "pick a run with a checkpoint (p)")
    return None


class InspectScreen(Screen):
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
    ]

    def __init__(self) -> None:
        super().__init__()
        self._cache: OrderedDict[tuple, Any] = OrderedDict()  # (path, checkpoint mtime) -> Inspector
        self._cache_lock = threading.Lock()
        self._scan_cache: dict = {}
        self._tokens: dict[str, int] = {}
        self._busy: dict[str, str] = {}  # kind -> what it is doing (shown on the message line)
        self._followed: Path | None = None  # the app's selected run when last looked at
        self.runs: list = []  # inspectable RunInfos, newest first
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
        yield Header(show_clock=False)
        yield NavBar("inspect")
        yield Static(id="insp-run")
        yield Static(id="insp-message")
        with Horizontal(id="insp-top"):
            with Vertical(id="insp-side"):
                yield OptionList(id="insp-runs")
                user = Input(placeholder="user (the dataset's id), enter", id="insp-user", compact=True)
                user.cursor_blink = not self.app.is_headless
                yield user
                yield OptionList(id="insp-users")
            with Vertical(id="insp-plot"):
                yield Static(id="insp-step")
                yield ScoreChart(empty="pick a run and a user", id="insp-chart")
                yield Static(id="insp-legend")
        with Horizontal(id="insp-bottom"):
            with Vertical(id="insp-hist-box"):
                add = Input(placeholder="what-if: add an item (name or id)", id="insp-add", compact=True)
                add.cursor_blink = not self.app.is_headless
                yield add
                yield OptionList(id="insp-found")
                yield DataTable(id="insp-history", cursor_type="row", zebra_stripes=True)
            yield DataTable(id="insp-topk", cursor_type="row", zebra_stripes=True)
            yield Static(id="insp-info")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#insp-runs").border_title = "runs with a checkpoint (p)"
        self.query_one("#insp-found").display = False
        self.query_one("#insp-legend", Static).update(
            "[cyan]⣀ score[/]  [blue]● history[/]  [green]◆ valid[/]  [red]▲ test[/]  "
            "[dim]│ top-K cutoff[/]")
        self._draw_all()
        self.query_one("#insp-history").focus()

    def on_screen_resume(self) -> None:
        self.refresh_runs()
        selected = self.app.selected_run()
        if selected != self._followed:  # the Runs table or the Train screen moved on: follow
            self._followed = selected
            if selected is not None and selected != self.run_path:
                self.load_run(selected)
                return
        if self.run_path is None and self.runs:
            self.load_run(self.runs[0].path)  # nothing selected: the newest inspectable run
        elif self.run_path is None:
            self.show_error("no run to inspect: train one (ctrl+r) or pick a runs directory with finished runs")

    # ------------------------------------------------------------ background work

    def _submit(self, kind: str, busy: str, compute: Callable[[], Any], apply: Callable[[Any], None]) -> None:
        """Run `compute` in a thread worker; `apply` its result on the UI thread unless
        another request of the same kind was made meanwhile."""
        self._tokens[kind] = token = self._tokens.get(kind, 0) + 1
        self._busy[kind] = busy
        self._draw_message()
        self.set_timer(LOADING_DELAY, self._draw_loading)  # quick answers never flash a spinner
        # An explicit description: Textual's default is repr(work), and the repr of a
        # partial holding a UserView prints its arrays (a quarter of a second here).
        self.run_worker(partial(self._job, kind, token, compute, apply), name=f"inspect-{kind}",
                        group=f"inspect-{kind}", description=busy, thread=True, exit_on_error=False)

    def _cancel(self, *kinds: str) -> None:
        for kind in kinds:
            self._tokens[kind] = self._tokens.get(kind, 0) + 1
            self._busy.pop(kind, None)

    def _job(self, kind: str, token: int, compute, apply) -> None:
        result, error = None, None
        try:
            _torch_setup()
            result = compute()
        except _Abandoned:
            return  # superseded, or the app is closing: nobody waits for this answer
        except InputError as exc:
            error = str(exc)
        except Exception as exc:  # a bug or a broken file: one line on screen, never a traceback
            error = f"inspect ({kind}): {one_line(exc)}"
        try:
            self.app.call_from_thread(self._done, kind, token, result, error, apply)
        except RuntimeError:
            pass  # the app closed meanwhile

    def _done(self, kind: str, token: int, result, error: str | None, apply) -> None:
        if token != self._tokens.get(kind) or not self.is_attached:
            return
        self._busy.pop(kind, None)
        self._draw_loading()
        if error is not None:
            self.show_error(error)
            return
        apply(result)
        self._draw_message()

    def inspector(self, path: Path):
        """The run's Inspector, loaded once per checkpoint file (runs in a worker)."""
        key = (path.resolve(), (path / "checkpoint.pt").stat().st_mtime_ns)
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        from engine.inspection.inspector import Inspector  # imports torch: workers only
        insp = Inspector(path)
        with self._cache_lock:
            self._cache[key] = insp
            while len(self._cache) > CACHE_RUNS:
                self._cache.popitem(last=False)
        return insp

    @property
    def busy(self) -> bool:
        return bool(self._busy)

    # ------------------------------------------------------------ requests

    def refresh_runs(self) -> None:
        rows = scan(self.app.runs_dir, self._scan_cache)
        self.runs = [r.info for r in rows if (r.info.path / "checkpoint.pt").is_file()]
        self._draw_runs()

    def load_run(self, path: Path) -> None:
        path = Path(path)
        self._cancel("run", "user", "whatif", "list")
        self.run_path, self.insp, self.view, self.whatif = path, None, None, None
        self.ranked = False
        self.removed, self.added, self.list_users = [], [], []
        self.error = None
        why = inspectable(path)
        if why:
            self._draw_all()
            self.show_error(why)
            return
        self._draw_all()
        self._submit("run", f"loading run {path.name}...", partial(self.inspector, path), self._run_loaded)

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
        self._submit("user", f"denoising user {user}...", partial(insp.user, user, k, SEED), self._user_loaded)

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
        work = partial(insp.what_if, view.user, list(self.removed), list(self.added), view.topk, SEED, before=view)
        # Panels redraw when the answer is in (a few tens of ms): redrawing them now would
        # only hold the UI thread while the worker waits to start.
        self._submit("whatif", "re-denoising the edited history...", work, self._whatif_done)

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
        fetch = {"best": partial(insp.best_users, LIST_SIZE), "worst": partial(insp.worst_users, LIST_SIZE),
                 "random": partial(insp.random_users, LIST_SIZE, seed)}[mode]
        token = self._tokens.get("list", 0) + 1  # the token _submit is about to hand out
        batch = max(1, RANK_BATCH_SCORES // insp.n_items)
        work = partial(self._rank, insp, fetch, token, batch)
        self._submit("list", f"ranking all {insp.n_users:,} users by Recall@20...", work, self._list_loaded)
        self._draw_list()

    def _rank(self, insp, fetch, token: int, batch: int):
        """Worker side of load_list: the all-users pass in batches (single-user requests
        run between them), abandoned when superseded or when the app closes."""
        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            if worker.is_cancelled or token != self._tokens.get("list"):
                raise _Abandoned
            if done < total:
                self.app.call_from_thread(self._rank_progress, token, done, total)

        insp.user_table(progress=progress, batch_size=batch)
        return fetch()

    def _rank_progress(self, token: int, done: int, total: int) -> None:
        if token == self._tokens.get("list") and "list" in self._busy:
            self._busy["list"] = f"ranking all {total:,} users by Recall@20: {done:,} done..."
            self._draw_message()

    def _list_loaded(self, users) -> None:
        self.ranked = True
        self.list_users = users
        self._draw_list()

    # ------------------------------------------------------------ state helpers

    def ks(self) -> list[int]:
        if self.insp is None:
            return [20]
        return sorted(k for k in {*self.insp.cfg["topk"], 20} if k <= self.insp.n_items) or [self.insp.n_items]

    @property
    def shown(self):
        """The view on screen: the what-if when there are edits, else the user's own."""
        return self.whatif.after if self.whatif is not None else self.view

    def vector(self) -> np.ndarray | None:
        """The vector at the current step: 0 = the model's input, S = the final scores."""
        v = self.shown
        if v is None:
            return None
        if v.latent:
            return v.scores
        return v.input if self.step == 0 else v.trajectory[self.step - 1]

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
        self._draw_chart()
        self._draw_history()
        self._draw_topk()
        self._draw_info()
        self._draw_loading()
        self.refresh_bindings()

    def _draw_header(self) -> None:
        box = self.query_one("#insp-run", Static)
        if self.run_path is None:
            box.update("[b]Inspect[/b]: no run yet")
            return
        parts = [f"[b]{escape(self.run_path.name)}[/b]"]
        insp = self.insp
        if insp is not None:
            cfg = insp.cfg
            model = insp.model + (" (time-aware)" if cfg.get("time-aware") else "")
            parts.append(f"{escape(model)} on {escape(str(cfg.get('dataset')))}, "
                         f"{insp.n_users} users x {insp.n_items} items")
            r = insp.checkpoint_test.get(RANK_METRIC)
            parts.append(f"best epoch {insp.checkpoint_epoch}" + (f", test R@20 {r:.4f}" if r is not None else ""))
        box.update(" · ".join(parts))

    def _draw_message(self) -> None:
        if not self.is_mounted:
            return
        box = self.query_one("#insp-message", Static)
        if self.error:
            box.update(f"[b $error]✗[/] {escape(self.error)}")
        elif self._busy:
            box.update(Text(" · ".join(self._busy.values()), style="italic"))
        else:
            box.update("")

    def _draw_loading(self) -> None:
        if not self.is_mounted:
            return
        heavy = "run" in self._busy or "user" in self._busy
        self.query_one("#insp-chart").loading = heavy
        self.query_one("#insp-topk").loading = heavy or "whatif" in self._busy
        self.query_one("#insp-users").loading = "list" in self._busy

    def _draw_runs(self) -> None:
        ol = self.query_one("#insp-runs", OptionList)
        current = str(self.run_path.resolve()) if self.run_path else None
        opts, highlight = [], None
        for i, info in enumerate(self.runs):
            cfg = info.config or {}
            r = info.best[1].get(RANK_METRIC)
            text = f"{short_id(info.id):<17} {str(cfg.get('model', '?'))[:9]:<9} " + \
                   (f"R@20 {r:.3f}" if r is not None else info.status)
            opts.append(Option(text, id=str(info.path.resolve())))
            if str(info.path.resolve()) == current:
                highlight = i
        ol.clear_options()
        ol.add_options(opts)
        if highlight is not None:
            ol.highlighted = highlight

    def _draw_list(self) -> None:
        ol = self.query_one("#insp-users", OptionList)
        label = {"best": "best-served", "worst": "worst-served", "random": "random"}[self.list_mode]
        ol.border_title = f"{label} users, test R@20 (l)"
        ol.clear_options()
        if self.list_users:
            uid = self.insp.user_id
            ol.add_options([Option(f"{str(uid(u.user)):>6}  R@20 {u.value:.3f}  hist {u.n_history:>3}  "
                                   f"test {u.n_test:>2}", id=str(u.user)) for u in self.list_users])
        elif self.insp is not None and not self.ranked and "list" not in self._busy:
            ol.add_option(Option(f"press l to rank all {self.insp.n_users:,} users by their test Recall@20 "
                                 "(one scoring pass, in the background)", disabled=True))

    def _draw_chart(self) -> None:
        chart = self.query_one("#insp-chart", ScoreChart)
        step_box = self.query_one("#insp-step", Static)
        v = self.shown
        vec = self.vector()
        if v is None or vec is None:
            chart.show(None)
            step_box.update("")
            return
        total = v.steps
        if v.latent:
            label = "final scores (this model's reverse steps run in a latent space: no per-item trajectory)"
        elif self.step == 0:
            label = f"step 0/{total}: the input (the user's training row)"
        elif self.step == total:
            label = f"step {total}/{total}: final scores (ranked)"
        else:
            label = f"step {self.step}/{total}: after reverse step {self.step}"
        who = f"user {self.insp.user_id(v.user)}" + (" (what-if)" if self.whatif is not None else "")
        step_box.update(f"[b]{escape(who)}[/b]  ◀ [b]{escape(label)}[/b] ▶  [dim], . or \\[ ] to step, f: final[/]")
        marked = {"history": np.array([h.item for h in v.history], dtype=np.int64),
                  "valid": v.valid_items, "test": v.test_items}
        log = self.log_x if self.log_x is not None else len(vec) > LOG_X_ITEMS
        # The top-K line marks rank K of the shown list (history and valid items excluded,
        # as the test metric ranks) among all the items the chart sorts.
        cutoff = v.cutoff(vec) if not v.latent else v.topk
        chart.show(vec, marked, cutoff=cutoff, title=f"scores of user {self.insp.user_id(v.user)}, step "
                   f"{self.step}/{total}" + ("  (log x: g)" if log else ""), log_x=log)

    def _draw_history(self) -> None:
        table = self.query_one("#insp-history", DataTable)
        view = self.view
        box = self.query_one("#insp-hist-box")
        keep = self._cursor_key(table)
        table.clear(columns=True)
        if view is None or self.insp is None:
            box.border_title = "history"
            return
        names = self.insp.has_titles
        # Fixed widths: auto widths are measured on the table's next idle, which may come late.
        widths = [1, max(3, len(str(len(view.history)))), self._item_width(), 8]
        table.add_column("", key="mark", width=widths[0])
        table.add_column("#", key="pos", width=widths[1])
        table.add_column("item", key="item", width=widths[2])
        if names:
            table.add_column("name", key="name", width=self._name_width(table, widths, chrome=2))
        table.add_column("T-weight" if self.insp.cfg.get("time-aware") else "weight", key="weight", width=widths[3])
        after = {h.item: h.weight for h in self.whatif.after.history} if self.whatif is not None else None
        n = len(view.history)
        rows = [(i, "+", "new") for i in reversed(self.added)]
        rows += [(h.item, "−" if h.item in self.removed else "", str(n - h.position)) for h in reversed(view.history)]
        own = {h.item: h.weight for h in view.history}
        for item, mark, pos in rows:
            w = after.get(item) if after is not None else own.get(item)
            style = "strike dim" if mark == "−" else ("bold green" if mark == "+" else "")
            cells = [mark, pos, str(self.insp.item_id(item))] + ([self.insp.name(item)] if names else []) + \
                    ["-" if w is None or mark == "−" else f"{w:.3f}"]
            table.add_row(*[Text(c, style=style) for c in cells], key=str(item))
        if keep is not None and keep in {str(r[0]) for r in rows}:  # the cursor stays on its item
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        edits = f" · what-if −{len(self.removed)} +{len(self.added)}" if self.removed or self.added else ""
        box.border_title = f"history: {n} items" + (edits or ", newest first")

    def _draw_topk(self) -> None:
        table = self.query_one("#insp-topk", DataTable)
        table.clear(columns=True)
        v = self.shown
        if v is None or self.insp is None:
            table.border_title = "top-K"
            return
        names = self.insp.has_titles
        cols = [("rank", "rank", max(4, len(str(v.topk)))), ("item", "item", self._item_width()),
                ("score", "score", 8), ("hit", "hit", 5), ("what-if", "delta", 8)]
        if names:
            cols.insert(2, ("name", "name", self._name_width(table, [w for *_, w in cols], chrome=4)))
        for title, key, width in cols:
            table.add_column(title, key=key, width=width)
        delta = self._deltas()
        for r in v.top:
            hit = Text(r.hit, style="bold red" if r.hit == "test" else "green") if r.hit else Text("")
            cells = [str(r.rank), str(self.insp.item_id(r.item))] + ([r.name] if names else []) + [f"{r.score:.4f}"]
            table.add_row(*cells, hit, delta.get(r.item, Text("")), key=str(r.item))
        table.border_title = f"top-{v.topk} of user {self.insp.user_id(v.user)}" + \
            (", what-if" if self.whatif is not None else " (history, valid excluded)")

    def _item_width(self) -> int:
        if self.insp is None:
            return 4
        widest = max(map(len, self.insp.tokens.items)) if self.insp.tokens else len(str(self.insp.n_items - 1))
        return max(4, min(widest, 16))

    @staticmethod
    def _name_width(table: DataTable, others: list[int], chrome: int) -> int:
        """What is left of the table's width for the item-name column (names are cut);
        `chrome`: the columns taken by the table's border and vertical scrollbar."""
        inner = table.size.width - chrome
        pad = 2 * table.cell_padding * (len(others) + 1)
        return max(MIN_NAME_WIDTH, inner - sum(others) - pad) if table.size.width else NAME_WIDTH

    @staticmethod
    def _cursor_key(table: DataTable) -> str | None:
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key((min(table.cursor_row, table.row_count - 1), 0)).row_key.value

    def on_resize(self, event) -> None:
        if self.insp is not None and self.insp.has_titles:  # the name columns take what fits
            self.call_after_refresh(self._draw_tables)

    def _draw_tables(self) -> None:
        if self.is_mounted:
            self._draw_history()
            self._draw_topk()

    def _deltas(self) -> dict[int, Text]:
        w = self.whatif
        if w is None:
            return {}
        out = {}
        for c in w.entering:
            out[c.item] = Text(f"new #{c.before}" if c.before else "new", style="bold green")
        for c in w.moved:
            up = (c.before or 0) - (c.after or 0)
            out[c.item] = Text(f"▲{up}" if up > 0 else f"▼{-up}", style="green" if up > 0 else "yellow")
        return out

    def _draw_info(self) -> None:
        box = self.query_one("#insp-info", Static)
        view = self.view
        if view is None:
            box.update("[dim]pick a user: type an id (u) or choose one from the list (l cycles best, "
                       "worst, random)[/]")
            return
        k = view.topk
        lines = [f"[b]user {escape(str(self.insp.user_id(view.user)))}[/b]: {len(view.history)} history, {len(view.valid_items)} valid, "
                 f"{len(view.test_items)} test",
                 f"{'':6}{'R@' + str(k):>7}{'N@' + str(k):>7}" + ("   what-if" if self.whatif is not None else "")]
        w = self.whatif
        for split in ("test", "valid"):
            m = view.metrics[split]
            r, n = m.get(f"recall@{k}", 0.0), m.get(f"ndcg@{k}", 0.0)
            line = f"{split:<6}{r:>7.4f}{n:>7.4f}"
            if w is not None:
                a = w.after.metrics[split]
                line += f" →{a.get(f'recall@{k}', 0.0):>7.4f}{a.get(f'ndcg@{k}', 0.0):>7.4f}"
            lines.append(line)
        if w is None and not (self.removed or self.added):
            lines += ["", "[dim]what-if: x removes/restores the highlighted history item, a adds an item, "
                          "z resets[/]"]
        elif w is None:
            lines += ["", "[i]re-denoising...[/i]"]
        else:
            name = self.insp.name
            lines += ["", f"[b]what-if[/b] −{len(w.removed)} +{len(w.added)}: "
                          f"{len(w.entering)} in, {len(w.leaving)} out, {len(w.moved)} moved"]
            for c in w.entering[:4]:
                lines.append(f"[green]+ {escape(name(c.item))}[/] " + (f"#{c.before}" if c.before else "history")
                             + f" → #{c.after}")
            for c in w.leaving[:4]:
                lines.append(f"[yellow]− {escape(name(c.item))}[/] #{c.before} → "
                             + (f"#{c.after}" if c.after else "history"))
            more = len(w.entering) - 4 + len(w.leaving) - 4
            if more > 0:
                lines.append(f"[dim]... {more} more[/]")
        box.update("\n".join(lines))

    # ------------------------------------------------------------ events

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        oid = event.option.id
        if event.option_list.id == "insp-runs" and oid:
            if Path(oid) != (self.run_path.resolve() if self.run_path else None):
                self.load_run(Path(oid))
        elif event.option_list.id == "insp-users" and oid and self.insp is not None:
            self.query_one("#insp-user", Input).value = str(self.insp.user_id(int(oid)))
            self.load_user(int(oid))
        elif event.option_list.id == "insp-found" and oid:
            self.add(int(oid))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "insp-user":
            text = event.value.strip()
            if not text:
                return
            if self.insp is None:
                self.show_error("inspect: no run loaded yet; pick a run with a checkpoint (p)")
                return
            try:
                user = self.insp.find_user(text)  # the dataset's own id (a dense id for npy data)
            except InputError as exc:
                self.show_error(str(exc))
                return
            self.load_user(user)
            self.query_one("#insp-history").focus()
        elif event.input.id == "insp-add":
            found = self.query_one("#insp-found", OptionList)
            if found.option_count:
                self.add(int(found.get_option_at_index(found.highlighted or 0).id))
            elif event.value.strip():
                self.show_error(f"what-if: no item outside the history matches {event.value.strip()!r}; "
                                "type part of a name or an id")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "insp-add":
            self.search(event.value)

    def search(self, text: str) -> None:
        found = self.query_one("#insp-found", OptionList)
        found.clear_options()
        if self.insp is None or self.view is None or not text.strip():
            found.display = False
            return
        have = {h.item for h in self.view.history if h.item not in self.removed} | set(self.added)
        hits = [(i, n) for i, n in self.insp.search_items(text, SEARCH_LIMIT + len(have)) if i not in have]
        ids = self.insp.item_id
        found.add_options([Option(f"{ids(i)}  {n}" if n != str(ids(i)) else str(ids(i)), id=str(i))
                           for i, n in hits[:SEARCH_LIMIT]])
        found.display = bool(hits)
        if hits:
            found.highlighted = 0

    # ------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in ("step", "final_step", "toggle_log"):
            return self.shown is not None and not self.shown.latent or None
        if action in ("toggle_item", "add_item"):
            return self.view is not None or None
        if action == "reset_whatif":
            return bool(self.removed or self.added) or None
        if action in ("next_k", "next_list", "focus_user"):
            return self.insp is not None or None
        return True

    def action_step(self, delta: int) -> None:
        v = self.shown
        if v is None or v.latent:
            return
        new = max(0, min(v.steps, self.step + delta))
        if new != self.step:
            self.step = new
            self._draw_chart()

    def action_final_step(self) -> None:
        v = self.shown
        if v is not None and self.step != v.steps:
            self.step = v.steps
            self._draw_chart()

    def action_toggle_log(self) -> None:
        vec = self.vector()
        if vec is None:
            return
        current = self.log_x if self.log_x is not None else len(vec) > LOG_X_ITEMS
        self.log_x = not current
        self._draw_chart()

    def action_focus_user(self) -> None:
        self.query_one("#insp-user", Input).focus()

    def action_pick_run(self) -> None:
        self.refresh_runs()
        self.query_one("#insp-runs", OptionList).focus()
        if not self.runs:
            self.show_error(f"no run under {self.app.runs_dir} has a checkpoint yet; train one (ctrl+r)")

    def action_next_list(self) -> None:
        if self.ranked or "list" in self._busy:  # the first l on a big run starts the ranking
            self.list_mode = LIST_MODES[(LIST_MODES.index(self.list_mode) + 1) % len(LIST_MODES)]
            if self.list_mode == "random":
                self._random_seed += 1  # each visit draws other users (still reproducible)
        self.load_list(force=True)
        self.query_one("#insp-users", OptionList).focus()

    def action_next_k(self) -> None:
        ks = self.ks()
        self.k = ks[(ks.index(self.k) + 1) % len(ks)] if self.k in ks else ks[0]
        if self.user is not None:
            self.load_user(self.user, keep_edits=True)

    def action_toggle_item(self) -> None:
        table = self.query_one("#insp-history", DataTable)
        if self.view is None or not table.row_count:
            return
        item = int(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value)
        if item in self.added:
            self.added.remove(item)
        elif item in self.removed:
            self.removed.remove(item)
        else:
            self.removed.append(item)
        self.clear_error()
        self.rerun_whatif()
        self.refresh_bindings()

    def add(self, item: int) -> None:
        view = self.view
        if view is None:
            return
        if item in self.added or (item in {h.item for h in view.history} and item not in self.removed):
            self.show_error(f"what-if: item {self.insp.item_id(item)} is already in user "
                            f"{self.insp.user_id(view.user)}'s history")
            return
        if item in self.removed:  # adding a removed item back restores it at its own place
            self.removed.remove(item)
        else:
            self.added.append(item)
        inp = self.query_one("#insp-add", Input)
        inp.value = ""
        self.clear_error()
        self.rerun_whatif()
        self.refresh_bindings()

    def action_add_item(self) -> None:
        self.query_one("#insp-add", Input).focus()

    def action_reset_whatif(self) -> None:
        self.removed, self.added = [], []
        self.clear_error()
        self.rerun_whatif()
        self.refresh_bindings()

    def action_leave_input(self) -> None:
        self.query_one("#insp-found", OptionList).display = False
        self.query_one("#insp-history").focus()
