"""Helpers of the reliability tests (bad input and faults): run the CLI as a user would and
check the promise "one clear line, the right exit status, no traceback, nothing lost"."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def _shared():
    """tests/conftest.py, loaded under its own name (several folders have a conftest)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("tests_shared_conftest", REPO / "tests" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_conftest = _shared()
TINY, subprocess_env = _conftest.TINY, _conftest.subprocess_env


def cli(*args, env: dict | None = None, timeout: float = 120, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """`python -m diffrec_tui.cli ARGS`, output captured as text (plain lines, no Rich display)."""
    return subprocess.run([sys.executable, "-m", "diffrec_tui.cli", *map(str, args)], cwd=cwd,
                          env={**subprocess_env(), **(env or {})}, capture_output=True, text=True, timeout=timeout)


def start_cli(*args, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "diffrec_tui.cli", *map(str, args)], cwd=REPO,
                            env={**subprocess_env(), **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def one_line(res: subprocess.CompletedProcess, code: int, *words: str, absent: tuple = ()) -> str:
    """The run exited with `code`, printed no traceback and exactly one line on stderr
    holding every word (and none of `absent`); returns that line."""
    out = res.stdout + res.stderr
    assert "Traceback" not in out, out
    assert res.returncode == code, (res.returncode, out)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    for w in absent:
        assert w not in out, (w, out)
    return lines[0]


def write_yaml(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def tiny(path: Path, **over) -> Path:
    """A tiny synthetic config file (seconds to train), with overrides."""
    return write_yaml(path, {**TINY, **over})


def runs_in(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).iterdir() if p.is_dir()) if Path(root).is_dir() else []


def no_traceback_in_logs(root: Path) -> None:
    for log in Path(root).rglob("worker.log"):
        assert "Traceback" not in log.read_text(encoding="utf-8", errors="replace"), log


def events(run: Path) -> list[dict]:
    """Every line of events.jsonl parsed (a line that is not JSON fails the test)."""
    return [json.loads(line) for line in (run / "events.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]


def wait_until(cond, timeout: float = 60, what: str = "condition", poll: float = 0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    return True


@contextlib.contextmanager
def unwritable(folder: Path):
    """`folder` cannot be written to, even by root (chattr +i there; chmod for others)."""
    import pytest
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("root, and chattr +i is not available here: cannot make a folder read-only")
        undo = ["chattr", "-i", str(folder)]
    else:
        folder.chmod(0o555)
        undo = None
    try:
        yield folder
    finally:
        if undo:
            subprocess.run(undo, capture_output=True)
        else:
            folder.chmod(0o755)


def main_in_process(capsys, *args) -> subprocess.CompletedProcess:
    """The CLI's main() in this process (torch already loaded: fast), as a CompletedProcess.
    An exception escaping main() fails the test, as a traceback would."""
    from diffrec_tui.cli import main
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, cap.out, cap.err)


def worker_in_process(capsys, run: Path, resume: bool = True) -> subprocess.CompletedProcess:
    """engine.processes.worker.run in this process (its signal handlers restored after), as a
    CompletedProcess whose stderr is the line the CLI would print: the failed event's reason."""
    import signal
    from engine.processes import worker
    from engine.records.events import read_events
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        code = worker.run(run, resume=resume)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    cap = capsys.readouterr()
    last = (read_events(Path(run) / "events.jsonl") or [{}])[-1]
    reason = f"{last.get('reason')}\n" if last.get("type") == "failed" else ""
    return subprocess.CompletedProcess([str(run)], code, cap.out + cap.err, reason)


def worker_pid(run: Path, timeout: float = 60) -> int:
    """The pid of a run's worker, from its `started` event (waiting for it)."""
    from engine.records.events import read_events
    started = wait_until(lambda: next((e for e in read_events(run / "events.jsonl") if e["type"] == "started"), None),
                         timeout, what=f"{run}: the started event")
    return started["pid"]


def child_pids(pid: int) -> list[int]:
    """The children of a process (Linux /proc)."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []

