"""Helpers for tests that drive a child process (importable from every test folder: pytest
puts tests/ on the import path for tests/conftest.py)."""
from __future__ import annotations

import queue
import threading
import time


class LineReader:
    """Reads a process's stdout on a thread so the test can wait for a line with a timeout."""

    def __init__(self, proc):
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(proc.stdout,), daemon=True).start()

    def _pump(self, stream):
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def _next_lines(self, timeout: float):
        """Lines as they come (each also kept in `seen`), until the stream ends or time is up."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=max(0.05, end - time.monotonic()))
            except queue.Empty:
                return
            if line is None:
                return
            self.seen.append(line)
            yield line

    def wait_for(self, text: str, timeout: float = 120) -> str:
        for line in self._next_lines(timeout):
            if text in line:
                return line
        raise AssertionError(f"{text!r} not seen; output so far:\n{''.join(self.seen)}")

    def rest(self, timeout: float = 30) -> str:
        """Everything the process printed, once its stream has closed."""
        for _ in self._next_lines(timeout):
            pass
        return "".join(self.seen)
