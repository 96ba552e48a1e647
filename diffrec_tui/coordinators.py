"""The sweep coordinators the app started, owned by the app (as its training runs are):
launch, resume, stop, notice how each ended. Every process goes through
engine.processes.supervisor.Child; the Sweep screen asks the app, never holds a process itself.
No Textual and no torch here.
"""
from __future__ import annotations

import signal
from pathlib import Path

from engine.processes.supervisor import Child, ExitCode
from engine.records.runs import pid_alive
from engine.records.sweeps import SweepDir, SweepInfo

from diffrec_tui import sweeps


class Children(dict):
    """Sweep directory -> the Child of its coordinator; a Popen put in is wrapped in one."""

    def __setitem__(self, path, proc) -> None:
        super().__setitem__(Path(path), proc if isinstance(proc, Child) else Child(proc))


class Coordinators:
    def __init__(self) -> None:
        self.procs: Children = Children()
        self.exit_codes: dict[Path, int] = {}  # how each ended, once it has

    def launch(self, path: Path, workers: int | None = None, backend: str = "local") -> Child:
        """Run (or resume) the sweep's unfinished trials in a new coordinator process
        (OSError when it cannot start)."""
        path = Path(path)
        self.procs[path] = child = Child(sweeps.launch(path, workers, backend))
        self.exit_codes.pop(path, None)
        return child

    def starting(self, path: Path) -> bool:
        child = self.procs.get(Path(path))
        return child is not None and child.alive()

    def running(self) -> list[Path]:
        """Sweeps whose coordinator this app started and which are still running."""
        return [path for path, child in self.procs.items() if child.alive()]

    def stop(self, info: SweepInfo) -> bool:
        """Ask the sweep's coordinator to stop (SIGINT: no new trial, running ones stop at a
        batch and are recorded as stopped; a second ask kills them). One this app did not
        start is reached by the pid its state records."""
        child = self.procs.get(info.path)
        if child is None or not child.alive():
            pid = info.state.get("pid")
            if info.state.get("status") != "running" or not pid_alive(pid):
                return False
            child = Child(pid=int(pid))
        return child.stop(signal.SIGINT)

    def stop_all(self) -> None:
        for path in self.running():
            self.procs[path].stop(signal.SIGINT)

    def poll(self) -> list[tuple[Path, int]]:
        """(sweep, exit status) of each coordinator that ended since the last poll."""
        ended = []
        for path, child in list(self.procs.items()):
            code = child.poll()
            if code is not None and path not in self.exit_codes:
                self.exit_codes[path] = code
                ended.append((path, code))
        return ended

    def refused(self, path: Path) -> bool:
        """Its coordinator exited on bad input before running anything."""
        return self.exit_codes.get(Path(path)) == ExitCode.INPUT


def ended_message(path: Path, code: int) -> tuple[str, str]:
    """(what to tell the user, severity) when a coordinator the app started exited."""
    name = sweeps.label(path)
    if code == ExitCode.INPUT:  # its one-line message is the log's last line
        return f"{name} did not start: {sweeps.log_tail(path, 1)}", "error"
    if code == ExitCode.INTERRUPTED:
        return f"{name} stopped; f4 resumes it", "warning"
    if code == ExitCode.OK:
        return f"{name} finished; ctrl+b puts its best config in the editor", "information"
    log = SweepDir(path).log_file.name
    return f"{name}: no trial finished (exit {code}); see {path.name}/{log}", "error"
