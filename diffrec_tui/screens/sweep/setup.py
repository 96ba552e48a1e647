"""The Sweep screen's left column: the space editor (base config, hyper.test file, the
space, trials and workers, the search, pruner and backend, the live check) and the list
of the runs directory's sweeps, read in a thread worker."""
from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Select, Static, TextArea
from textual.worker import get_current_worker

from engine.errors import InputError
from engine.records.sweeps import SETTLED, SweepInfo, list_sweeps
from engine.search import pruning, space as tuning

from diffrec_tui import sweeps
from diffrec_tui.screens.sweep.results import num

SOURCE = "hyper.test"  # how messages name the space being edited
SEARCHES = ("auto", *tuning.SEARCHES)  # auto: grid for all-choice lines without trials, else random
BACKENDS = ("local", "ray")  # of engine.processes.backends.BACKENDS: `process` is for tests and benchmarks


def _select(wid: str, values: tuple[str, ...]) -> Select:
    return Select([(v, v) for v in values], id=wid, value=values[0], allow_blank=False, compact=True)


def _input(wid: str, placeholder: str, blink: bool) -> Input:
    inp = Input(placeholder=placeholder, id=wid, compact=True)
    inp.cursor_blink = blink
    return inp


class SweepSetup(Vertical):
    """Edits the space to launch; says its first problem (with its line) or what a launch
    would run, and the last action's error, until the next edit."""

    def __init__(self, blink: bool, **kwargs) -> None:
        super().__init__(**kwargs)
        self.blink = blink
        self.message = ""  # an error from the last action, shown under the space
        self.space_name = "sweep"  # names a new sweep's directory
        self.hyper_file: str | None = None  # the file the space was loaded from, if any

    def compose(self) -> ComposeResult:
        with Horizontal(classes="sweep-row"):
            yield Static("base", classes="sweep-label")
            yield _input("sweep-base", "blank: the editor's config, or a YAML path", self.blink)
        with Horizontal(classes="sweep-row"):
            yield Static("file", classes="sweep-label")
            yield _input("sweep-file", "path/to/hyper.test, then ctrl+o", self.blink)
        area = TextArea(sweeps.TEMPLATE, id="sweep-space", show_line_numbers=True, soft_wrap=False,
                        tab_behavior="focus", compact=True)
        area.cursor_blink = self.blink
        yield area
        yield Static(id="sweep-check")
        with Horizontal(classes="sweep-row"):
            yield Static("trials", classes="sweep-label")
            yield _input("sweep-trials", "grid", self.blink)
            yield Static("workers", classes="sweep-label")
            yield _input("sweep-workers", "auto", self.blink)
        with Horizontal(classes="sweep-row"):
            yield Static("search", classes="sweep-label")
            yield _select("sweep-search", SEARCHES)
            yield Static("prune", classes="sweep-label")
            yield _select("sweep-prune", pruning.PRUNERS)
        with Horizontal(classes="sweep-row"):
            yield Static("backend", classes="sweep-label")
            yield _select("sweep-backend", BACKENDS)
        yield Static(id="sweep-list-title")
        yield SweepList(id="sweep-list", cursor_type="row")

    @property
    def area(self) -> TextArea:
        return self.query_one(TextArea)

    @property
    def text(self) -> str:
        return self.area.text

    @property
    def base(self) -> str:
        return self.query_one("#sweep-base", Input).value

    def trial_count(self) -> int | None:
        return sweeps.parse_count(self.query_one("#sweep-trials", Input).value, "trials")

    def worker_count(self) -> int | None:
        return sweeps.parse_count(self.query_one("#sweep-workers", Input).value, "workers")

    def choice(self, name: str) -> str:
        """The chosen search, prune or backend."""
        return str(self.query_one(f"#sweep-{name}", Select).value)

    @property
    def search(self) -> str | None:
        """The search asked for; None: today's default (grid, or random with trials)."""
        return None if self.choice("search") == "auto" else self.choice("search")

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id in ("sweep-search", "sweep-prune"):
            self.message = ""
            self.show_check()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self.message = ""
        self.show_check()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("sweep-trials", "sweep-workers"):
            self.message = ""
            self.show_check()

    def show_check(self) -> None:
        try:
            trials, counts_error = self.trial_count(), ""
            self.worker_count()
        except InputError as exc:
            trials, counts_error = None, str(exc)
        check = sweeps.check_space(self.text, trials, source=SOURCE, search=self.search,
                                   prune=self.choice("prune"))
        if check.error or counts_error:
            text = f"[b $error]✗[/] [$error]{escape(check.error or counts_error)}[/]"
        else:
            text = f"[b $success]✓[/] {escape(check.summary)} (ctrl+l launches)"
        if self.message:
            text += f"\n[$error]{escape(self.message)}[/]"
        self.query_one("#sweep-check", Static).update(text)

    def error(self, message: str) -> None:
        self.message = message
        self.show_check()

    def clear_error(self) -> None:
        self.message = ""
        self.show_check()

    def show_space(self, text: str, name: str) -> None:
        """Put a sweep's space in the editor (the sweep opened from the list)."""
        self.area.load_text(text.rstrip("\n") + "\n")
        self.space_name, self.hyper_file = name, None

    def load_file(self) -> str | None:
        """Load the hyper.test file named in the file field; its name, or None (an inline error)."""
        field = self.query_one("#sweep-file", Input)
        text = field.value.strip()
        if not text:
            self.error("file: type the path of a hyper.test file first")
            field.focus()
            return None
        path = Path(text).expanduser()
        try:
            content = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.error(f"file: not found: {text}")
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self.error(f"file: cannot read {text} ({exc.__class__.__name__})")
            return None
        self.area.load_text(content)
        self.space_name, self.hyper_file = path.stem or "sweep", str(path.resolve())
        return path.name

    def unchanged_file(self) -> str | None:
        """The loaded file's path while the editor still holds its text, else None."""
        if not self.hyper_file:
            return None
        try:
            return self.hyper_file if Path(self.hyper_file).read_text(encoding="utf-8") == self.text else None
        except OSError:
            return None


class SweepList(DataTable):
    """The sweeps under the runs directory, newest first, read in a thread worker; rows
    keep their cursor across reloads. Posts Loaded when the rows are in."""

    class Loaded(Message):
        def __init__(self, listed: list[SweepInfo]) -> None:
            super().__init__()
            self.listed = listed

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.listed: list[SweepInfo] = []

    def on_mount(self) -> None:
        self.add_columns("sweep", "status", "best")

    @property
    def title(self) -> Static:
        return self.screen.query_one("#sweep-list-title", Static)

    def reload(self, root: Path, status) -> None:
        """Re-read the list; `status(info)` is each row's status (it knows the app's processes)."""
        if not self.listed:
            self.title.update(f"[b]sweeps[/b] in {escape(root.name or str(root))}/: loading...")
        self._list(root, status)

    @work(thread=True, exclusive=True, group="sweep-list", description="listing sweeps", exit_on_error=False)
    def _list(self, root: Path, status) -> None:
        worker = get_current_worker()
        listed = list_sweeps(root)
        if not worker.is_cancelled:
            try:
                self.app.call_from_thread(self._show, worker, root, listed, status)
            except RuntimeError:
                pass  # the app closed meanwhile

    def _show(self, worker, root: Path, listed: list[SweepInfo], status) -> None:
        if worker.is_cancelled or not self.is_attached:
            return  # a newer reload is on its way
        self.listed = listed
        key = self.current_key()
        self.clear()
        for info in listed:
            done = sum(1 for t in info.trials if t.status in SETTLED)
            running = sum(1 for t in info.trials if t.status == "running")
            self.add_row(sweeps.label(info.path), f"{status(info)} {done}/{info.size}"
                         + (f", {running} running" if running else ""),
                         num(info.best.value) if info.best else "-", key=str(info.path))
        if key is not None and any(str(i.path) == key for i in listed):
            self.move_cursor(row=self.get_row_index(key), animate=False)
        self.title.update(f"[b]sweeps[/b] in {escape(root.name or str(root))}/ ({len(listed)}): enter or o opens")
        self.post_message(self.Loaded(listed))

    def current_key(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
