"""The Inspect screen's requests in Textual thread workers: one worker group per kind of
request (run, user, whatif, list), `exclusive` so that a new request cancels the one it
supersedes; a cancelled worker's answer is dropped on the UI thread. A mixin of
InspectScreen (screen.py), which says what each answer changes."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from textual import work
from textual.worker import Worker, get_current_worker

from engine.errors import InputError

from diffrec_tui.screens.inspect.loading import Abandoned, one_line, torch_setup

LOADING_DELAY = 0.25  # seconds a request may take before its panels show a loading indicator


class InspectWorkers:
    def _submit(self, kind: str, busy: str, start: Callable[..., Worker], *args) -> None:
        """Start `start(*args)`, a worker of `kind`'s group (it supersedes the last one)."""
        self._busy[kind] = busy
        self._draw_message()
        self.set_timer(LOADING_DELAY, self._draw_loading)  # quick answers never flash a spinner
        start(*args)

    def _cancel(self, *kinds: str) -> None:
        for kind in kinds:
            self.workers.cancel_group(self, f"inspect-{kind}")
            self._busy.pop(kind, None)

    def _job(self, kind: str, compute: Callable[[], Any], apply: Callable[[Any], None]) -> None:
        """In a worker: compute, then apply the result on the UI thread unless superseded."""
        worker = get_current_worker()
        result, error = None, None
        try:
            torch_setup()
            result = compute()
        except Abandoned:
            return  # superseded, or the app is closing: nobody waits for this answer
        except InputError as exc:
            error = str(exc)
        except Exception as exc:  # a bug or a broken file: one line on screen, never a traceback
            error = f"inspect ({kind}): {one_line(exc)}"
        try:
            self.app.call_from_thread(self._done, worker, kind, result, error, apply)
        except RuntimeError:
            pass  # the app closed meanwhile

    def _done(self, worker: Worker, kind: str, result, error: str | None, apply) -> None:
        if worker.is_cancelled or not self.is_attached:
            return
        self._busy.pop(kind, None)
        self._draw_loading()
        if error is not None:
            self.show_error(error)
            return
        apply(result)
        self._draw_message()

    @work(thread=True, exclusive=True, group="inspect-run", description="inspect: load a run", exit_on_error=False)
    def _run_worker(self, path: Path) -> None:
        self._job("run", lambda: self.inspector(path), self._run_loaded)

    @work(thread=True, exclusive=True, group="inspect-user", description="inspect: a user", exit_on_error=False)
    def _user_worker(self, compute: Callable) -> None:
        self._job("user", compute, self._user_loaded)

    @work(thread=True, exclusive=True, group="inspect-whatif", description="inspect: what-if", exit_on_error=False)
    def _whatif_worker(self, compute: Callable) -> None:
        self._job("whatif", compute, self._whatif_done)

    @work(thread=True, exclusive=True, group="inspect-list", description="inspect: rank users", exit_on_error=False)
    def _list_worker(self, insp, fetch: Callable, batch: int) -> None:
        self._job("list", lambda: self._rank(insp, fetch, batch), self._list_loaded)

    def _rank(self, insp, fetch, batch: int):
        """Worker side of load_list: the all-users pass in batches (single-user requests
        run between them), abandoned when superseded or when the app closes."""
        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            if worker.is_cancelled:
                raise Abandoned
            if done < total:
                self.app.call_from_thread(self._rank_progress, worker, done, total)

        insp.user_table(progress=progress, batch_size=batch)
        return fetch()

    def _rank_progress(self, worker: Worker, done: int, total: int) -> None:
        if not worker.is_cancelled and "list" in self._busy:
            self._busy["list"] = f"ranking all {total:,} users by Recall@20: {done:,} done..."
            self._draw_message()

