"""The Textual app: Config, Train and Runs screens (plus any page registered in PAGES).

Never imports torch: training runs in a worker process (engine.processes.worker.spawn) and the app
follows its events. Screens are Textual "modes", so each keeps its state while
another is shown; keys 1-4 (and the tabs under the header) switch between them.
"""
from __future__ import annotations

import gc
import importlib
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal

from engine.errors import ConfigError, ExitCode, InputError, classify
from engine.processes.supervisor import STOP_GRACE_SECONDS

from diffrec_tui.commands import DiffRecCommands
from diffrec_tui.editor_actions import EditorActions
from diffrec_tui.coordinators import Coordinators, ended_message
from diffrec_tui.live import LiveRun
from diffrec_tui.state import Draft
from diffrec_tui.widgets.panes import fit

POLL_SECONDS = 0.1  # follow events and redraw at most this often (about 10 Hz)


@dataclass(frozen=True)
class Page:
    """A top-level screen: the key that shows it, its mode name, title and class."""
    key: str
    mode: str
    title: str
    target: str  # "package.module:Class", imported the first time the page is shown

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]


# Add a screen by adding a Page here and a module under diffrec_tui/screens/.
PAGES: list[Page] = [
    Page("1", "config", "Config", "diffrec_tui.screens.config:ConfigScreen"),
    Page("2", "train", "Train", "diffrec_tui.screens.train:TrainScreen"),
    Page("3", "runs", "Runs", "diffrec_tui.screens.runs:RunsScreen"),
    Page("4", "inspect", "Inspect", "diffrec_tui.screens.inspect:InspectScreen"),
    Page("5", "sweep", "Sweep", "diffrec_tui.screens.sweep:SweepScreen"),
]


def load_page(page: Page) -> type[Screen]:
    module, _, name = page.target.partition(":")
    return getattr(importlib.import_module(module), name)


class DiffRecApp(EditorActions, App):
    CSS_PATH = Path(__file__).resolve().parent / "app.tcss"  # absolute: subclasses may live elsewhere
    TITLE = "diffrec-tui"
    COMMANDS = App.COMMANDS | {DiffRecCommands}
    DEFAULT_MODE = PAGES[0].mode  # the first page is shown at start, without a switch
    BINDINGS = [
        *[Binding(p.key, f"page('{p.mode}')", p.title, id=f"app.page.{p.mode}", show=False) for p in PAGES],
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("ctrl+r", "start_run", "Start run", id="app.start_run"),
        Binding("f10", "toggle_dark", "Light/dark", id="app.theme", show=False),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
        Binding("q", "quit", "Quit", id="app.quit_key", show=False),
    ]

    def __init__(self, config: dict | None = None, config_path: str | Path | None = None,
                 runs_dir: str | Path = "runs", *, start: str | None = None,
                 poll_seconds: float = POLL_SECONDS, stop_grace: float = STOP_GRACE_SECONDS,
                 note: str | None = None, runs_dir_fixed: bool = True, draft: Draft | None = None):
        if start is not None:  # open on another page (its mode name) instead of Config
            self.DEFAULT_MODE = start
        super().__init__()
        self.draft = draft or Draft(config, config_path)  # a loaded Draft keeps its file's problems
        if draft is None:
            self.draft.note = note  # the opened file's note lines (ignored RecBole keys, how it is read)
        # Paths are made absolute once, here: workers and sweep coordinators run elsewhere.
        self.runs_dir = Path(runs_dir).expanduser().resolve()
        self.runs_dir_fixed = runs_dir_fixed  # --runs-dir given: a config's checkpoint_dir does not move runs
        self.poll_seconds = poll_seconds
        self.stop_grace = stop_grace
        self.live: LiveRun | None = None  # the run the Train screen shows
        self.highlighted_run: Path | None = None  # the Runs table's current row
        self.started: list[LiveRun] = []  # runs this app spawned (asked about on quit)
        self.sweeps = Coordinators()  # sweep coordinators this app started (asked about on quit)
        self.sweep_ended: Signal[tuple[Path, int]] = Signal(self, "sweep-ended")  # (sweep, exit status)
        self._pages = list(PAGES)
        for p in self._pages:
            self.add_mode(p.mode, lambda p=p: self._new_page(p))

    # ------------------------------------------------------------ pages

    def pages(self) -> list[Page]:
        return list(self._pages)

    def _new_page(self, page: Page) -> Screen:
        """A page's screen, the first time it is shown. After the first page its widgets take
        the app's stylesheet as they mount (their own default CSS included), so it is marked
        up to date: else Textual's refresh_css restyles and re-lays out the page being left
        before this one is built (0.4 s measured leaving Config)."""
        screen = load_page(page)()
        if self.screen_stack:  # not the first page: that one's refresh sets the theme's variables
            screen._css_update_count = self._css_update_count
        return screen

    def _import_pages(self) -> None:
        """Import the other pages' modules in a thread once the first page is painted, so a
        page's first key does not wait for them (the Runs page's: 70-150 ms). None imports torch."""
        def run() -> None:
            for page in self._pages:
                try:
                    importlib.import_module(page.module)
                except Exception:  # a broken page says so when it is shown (page_class)
                    pass
            gc.freeze()  # as the start-up objects: modules live as long as the app

        threading.Thread(target=run, name="import-pages", daemon=True).start()

    def page_class(self, page: Page) -> type[Screen] | None:
        try:
            return load_page(page)
        except (ImportError, AttributeError):
            return None

    def on_mount(self) -> None:
        # Start-up's objects live as long as the app: out of the cyclic GC's full collections,
        # which would otherwise walk them all again while a page is built (100-160 ms measured).
        self.call_after_refresh(gc.freeze)
        self.call_after_refresh(self._import_pages)
        fit(self, *self.size)
        self.set_interval(self.poll_seconds, self._tick)
        self.refresh_title()
        if self.draft.note:
            self.notify(self.draft.note, title="Config notes", timeout=10)
        if self.draft.problems:
            self.notify(f"{self.draft.name} has {len(self.draft.problems)} problem(s): they are marked in the form",
                        title="Config", severity="warning", timeout=10)
        if not self.is_headless:  # a real terminal: SIGTERM / SIGHUP (closed ssh) stop our runs first
            import asyncio
            import signal
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, self.terminate)

    def on_resize(self, event) -> None:
        fit(self, *event.size)  # small terminals get compact layouts (widgets/panes.py)

    def terminate(self) -> None:
        """Killed or hung up: stop what this app started (nothing was chosen to leave running), quit."""
        self._stop_all(self.active_runs())
        self.exit(return_code=ExitCode.TERMINATED)

    def _stop_all(self, active: list[LiveRun]) -> None:
        for r in active:
            r.stop()  # the worker writes `stopped` and its summary on its own
        self.sweeps.stop_all()  # each coordinator stops its trials the same way

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "page":
            return any(p.mode == parameters[0] for p in self._pages)
        return True

    def action_page(self, mode: str) -> None:
        if any(p.mode == mode for p in self._pages) and self.current_mode != mode:
            self.switch_mode(mode)

    def screen_for(self, mode: str) -> Screen | None:
        """The base screen of a page if it was shown at least once."""
        try:
            stack = self.get_screen_stack(mode)
        except KeyError:  # never shown
            return None
        return stack[0] if stack else None

    def action_help(self) -> None:
        from diffrec_tui.screens.help import HelpScreen
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_comparison(self) -> None:
        """The comparison view of `--compare` run groups (a screen over the current page)."""
        from diffrec_tui.screens.comparison import ComparisonScreen
        if not isinstance(self.screen, ComparisonScreen):
            self.push_screen(ComparisonScreen())

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def refresh_title(self) -> None:
        parts = [self.draft.name + (" *" if self.draft.dirty else "")]
        if self.live is not None:
            parts.append(f"run {self.live.id}: {self.live.state.status}")
        title = "  ·  ".join(parts)
        if title != self.sub_title:  # the header re-lays out on every change
            self.sub_title = title

    # ------------------------------------------------------------ runs

    def active_runs(self) -> list[LiveRun]:
        runs = list(self.started) + ([self.live] if self.live and self.live not in self.started else [])
        return [r for r in runs if r.state.active and r.alive()]

    def action_start_run(self) -> None:
        busy = [r for r in self.started if r.state.active and r.alive()]
        if busy:  # allowed (a GPU box trains several at once) but rarely wanted on a laptop
            from diffrec_tui.screens.dialogs import Confirm
            self.push_screen(Confirm(f"{busy[0].id} is still training. Start another run in parallel?",
                                     yes="Start another", no="Cancel"),
                             lambda ok: self._start() if ok else None)
            return
        self._start()

    def _start(self) -> None:
        try:
            cfg = self.draft.resolved()
        except ConfigError as exc:
            self.notify(f"cannot start: {exc}", title="Config has problems", severity="error")
            screen = self._config_screen()
            screen.action_next_problem()
            return
        from engine.data.layout import locate
        try:
            locate(cfg)  # a wrong data path is said now, before a run directory exists
            live = LiveRun.start(self.run_root(cfg), cfg, self.draft.note)
        except InputError as exc:
            self.notify(f"cannot start: {exc}", title="Data", severity="error")
            return
        except Exception as exc:  # a runs dir we cannot write, no room: the one-line reason inline
            self.notify(f"cannot start the run: {classify(exc)[0]}", title="Not started", severity="error")
            return
        self._follow(live)

    def run_root(self, cfg: dict) -> Path:
        """Where a new run goes: the runs directory, or the config's RecBole checkpoint_dir
        when --runs-dir was not given (as headless)."""
        if self.runs_dir_fixed or not cfg.get("checkpoint_dir"):
            return self.runs_dir
        return Path(cfg["checkpoint_dir"]).resolve()

    def resume_run(self, path: str | Path) -> None:
        """Continue a stopped or failed run (its resume point) in a new worker, on the Train screen."""
        from engine.records.runs import RunDir
        run = RunDir(Path(path).resolve())
        if not run.resume_file.is_file():
            self.notify(f"{run.id} has no {run.resume_file.name} (it never reached an evaluation); start a new run",
                        severity="warning")
            return
        if any(r.run.path == run.path for r in self.active_runs()) or run.worker_alive():
            self.notify(f"{run.id} is still training", severity="warning")
            return
        try:
            live = LiveRun.resume(run.path)
        except Exception as exc:  # the one-line reason inline, the app goes on
            self.notify(f"cannot resume {run.id}: {classify(exc)[0]}", severity="error")
            return
        self._follow(live)

    def _follow(self, live: LiveRun) -> None:
        self.started.append(live)
        self.live = live
        self.refresh_title()
        self.action_page("train")
        self._redraw_train()

    def action_stop_run(self) -> None:
        live = self.live
        if live is None or not live.state.active:
            self.notify("no active run to stop", severity="warning")
            return
        if live.stop():
            self.notify(f"stopping {live.id} at the next batch", title="Stop")
        else:
            self.notify(f"{live.id}: the worker is not running", severity="warning")
        self._redraw_train()

    def open_run(self, path: str | Path) -> None:
        """Show a run on the Train screen: live if it is still training, else its record."""
        path = Path(path)
        known = next((r for r in self.started if r.run.path == path), None)
        if known is None and self.live is not None and self.live.run.path == path:
            known = self.live
        try:
            self.live = known or LiveRun.attach(path)
        except Exception as exc:  # an unreadable run directory: say why, keep the app
            self.notify(f"cannot open {path.name}: {classify(exc)[0]}", severity="error")
            return
        self.refresh_title()
        self.action_page("train")
        self._redraw_train()

    def selected_run(self) -> Path | None:
        """The run a page such as Inspect should show: the Runs table's current row, else
        the run on the Train screen."""
        if self.highlighted_run is not None and self.highlighted_run.is_dir():
            return self.highlighted_run
        return self.live.run.path if self.live is not None else None

    def forget_run(self, path: str | Path) -> None:
        """A run directory is about to be deleted: stop showing it."""
        path = Path(path).resolve()
        if self.live is not None and self.live.run.path.resolve() == path:
            self.live = None
            self.refresh_title()
        if self.highlighted_run is not None and self.highlighted_run.resolve() == path:
            self.highlighted_run = None
        self.started = [r for r in self.started if r.run.path.resolve() != path]

    def _tick(self) -> None:
        followed = list(dict.fromkeys([*self.started, *([self.live] if self.live else [])]))
        changed = False
        for r in followed:
            if not r.state.active and (r.proc is None or r.exit_code is not None):
                continue
            was_active = r.state.active
            if r.poll():
                changed = True
                if was_active and not r.state.active and r in self.started:
                    sev = "error" if r.state.status == "failed" else "information"
                    self.notify(f"{r.id}: {r.state.status}. {r.state.reason}", title="Run", severity=sev)
            if r.enforce_stop(self.stop_grace):
                self.notify(f"{r.id} did not stop in {self.stop_grace:.0f}s: killed", severity="warning")
        if changed:
            self.refresh_title()
            self._redraw_train()
        self._poll_sweeps()

    # ------------------------------------------------------------ sweeps

    def launch_sweep(self, path: Path, workers: int | None = None, backend: str = "local") -> None:
        """Run (or resume) a sweep in a coordinator this app owns (OSError if it cannot start)."""
        self.sweeps.launch(path, workers, backend)

    def _poll_sweeps(self) -> None:
        for path, code in self.sweeps.poll():
            text, severity = ended_message(path, code)
            self.notify(text, title="Sweep", severity=severity)
            self.sweep_ended.publish((path, code))

    def _redraw_train(self) -> None:
        screen = self.screen_for("train")
        if screen is not None and self.current_mode == "train":
            screen.redraw()

    # ------------------------------------------------------------ quit

    async def action_quit(self) -> None:
        self.guard_draft(self._quit_runs, "quitting")

    def _quit_runs(self) -> None:
        active = self.active_runs()
        sweeping = self.sweeps.running()
        if not active and not sweeping:
            self.exit()
            return
        from diffrec_tui.screens.dialogs import QuitWithRun
        from diffrec_tui.sweeps import label

        def chosen(choice: str | None) -> None:
            if choice == "stop":
                self._stop_all(active)
                self.exit()
            elif choice == "leave":
                for r in active:
                    r.detach()  # the one way a worker outlives the app
                self.exit()

        names = [f"run {r.id}" for r in active] + [f"sweep {label(p)}" for p in sweeping]
        self.push_screen(QuitWithRun(names), chosen)
