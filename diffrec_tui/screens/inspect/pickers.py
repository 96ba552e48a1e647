"""The Inspect screen's choosers and status lines: the run header, the message line, the
run picker (runs with a checkpoint, listed in a thread worker) and the users list."""
from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from engine.records.sweeps import list_all_runs

from diffrec_tui.screens.runs import short_id
from diffrec_tui.screens.inspect.loading import has_checkpoint

RANK_METRIC = "recall@20"  # what the lists rank by (engine.inspection.inspector.RANK_METRIC)
LIST_LABELS = {"best": "best-served", "worst": "worst-served", "random": "random"}
PICKER_TITLE = "runs with a checkpoint (p)"


class UserField(Input):
    """The user to inspect, typed as the dataset's own id."""

    def __init__(self, blink: bool, **kwargs) -> None:
        super().__init__(placeholder="user (the dataset's id), enter", compact=True, **kwargs)
        self.cursor_blink = blink


class RunHeader(Static):
    def show(self, path: Path | None, insp) -> None:
        if path is None:
            self.update("[b]Inspect[/b]: no run yet")
            return
        parts = [f"[b]{escape(path.name)}[/b]"]
        if insp is not None:
            cfg = insp.cfg
            model = insp.model + (" (time-aware)" if cfg.get("time-aware") else "")
            parts.append(f"{escape(model)} on {escape(str(cfg.get('dataset')))}, "
                         f"{insp.n_users} users x {insp.n_items} items")
            r = insp.checkpoint_test.get(RANK_METRIC)
            parts.append(f"best epoch {insp.checkpoint_epoch}" + (f", test R@20 {r:.4f}" if r is not None else ""))
        self.update(" · ".join(parts))


class MessageLine(Static):
    """The error of the last request, else what the workers are doing."""

    def show(self, error: str | None, busy: dict[str, str]) -> None:
        if error:
            self.update(f"[b $error]✗[/] {escape(error)}")
        elif busy:
            self.update(Text(" · ".join(busy.values()), style="italic"))
        else:
            self.update("")


class RunPicker(OptionList):
    """The inspectable runs under the runs directory (sweep trials included), newest first.
    Listed in a thread worker; the rows stay until the new ones are in. Posts Loaded."""

    class Loaded(Message):
        def __init__(self, runs: list) -> None:
            super().__init__()
            self.runs = runs

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.runs: list = []  # RunInfos with a checkpoint
        self.listed = False  # at least one listing arrived

    def on_mount(self) -> None:
        self.border_title = PICKER_TITLE

    def reload(self, root: Path) -> None:
        if not self.listed:
            self.border_title = f"{PICKER_TITLE}: loading..."
        self._list(root)

    @work(thread=True, exclusive=True, group="inspect-runs", description="listing runs", exit_on_error=False)
    def _list(self, root: Path) -> None:
        worker = get_current_worker()
        runs = [r for r in list_all_runs(root) if has_checkpoint(r.path)]
        if not worker.is_cancelled:
            try:
                self.app.call_from_thread(self._listed, worker, runs)
            except RuntimeError:
                pass  # the app closed meanwhile

    def _listed(self, worker, runs: list) -> None:
        if worker.is_cancelled or not self.is_attached:
            return
        self.runs, self.listed = runs, True
        self.border_title = PICKER_TITLE
        self.post_message(self.Loaded(runs))

    def show(self, current: Path | None) -> None:
        """The rows, the current run highlighted."""
        current_id = str(current.resolve()) if current else None
        opts, highlight = [], None
        for i, info in enumerate(self.runs):
            cfg = info.config or {}
            r = info.best[1].get(RANK_METRIC)
            text = f"{short_id(info.id):<17} {str(cfg.get('model', '?'))[:9]:<9} " + \
                   (f"R@20 {r:.3f}" if r is not None else info.status)
            opts.append(Option(text, id=str(info.path.resolve())))
            if str(info.path.resolve()) == current_id:
                highlight = i
        self.clear_options()
        self.add_options(opts)
        if highlight is not None:
            self.highlighted = highlight


class UserList(OptionList):
    """The best-served, worst-served or random users by per-user test Recall@20."""

    def show(self, mode: str, users: list, insp, ranked: bool, ranking: bool) -> None:
        self.border_title = f"{LIST_LABELS[mode]} users, test R@20 (l)"
        self.clear_options()
        if users:
            uid = insp.user_id
            self.add_options([Option(f"{str(uid(u.user)):>6}  R@20 {u.value:.3f}  hist {u.n_history:>3}  "
                                     f"test {u.n_test:>2}", id=str(u.user)) for u in users])
        elif insp is not None and not ranked and not ranking:
            self.add_option(Option(f"press l to rank all {insp.n_users:,} users by their test Recall@20 "
                                   "(one scoring pass, in the background)", disabled=True))
