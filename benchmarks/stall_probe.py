"""Shared by the app benchmarks: how late the event loop runs, and where its thread was
while it ran late.

A heartbeat task on the loop wakes every BEAT seconds and records how late it woke (the
time a key press would also have waited). With `sample=True` a thread also looks at the
loop thread's stack every SAMPLE seconds while the heartbeat is overdue, so a report can
name the code behind the long waits (the sampler needs the GIL too: it sees where the
loop thread is, or that it waits for the GIL)."""
from __future__ import annotations

import asyncio
import collections
import gc
import sys
import threading
import time
import traceback
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent) + "/"

BEAT = 0.005
SAMPLE = 0.005
LATE = 0.03  # a beat this overdue counts as a stall whose stack is sampled


class StallProbe:
    def __init__(self, sample: bool = False):
        self.samples: list[tuple[float, tuple[str, ...]]] = []
        self.gc_pauses: list[tuple[int, float, str]] = []  # (generation, seconds, thread) of each collection
        self._gc_start = 0.0
        self.gc_at: list[float] = []  # when each collection began
        self.beats: list[tuple[float, float]] = []  # (when due, how late)
        self._sample, self._beat, self._stop = sample, time.perf_counter(), False
        self._loop_thread = threading.get_ident()
        self._task: asyncio.Task | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._cpu = (time.thread_time(), time.process_time())
        self._t0 = time.perf_counter()
        gc.callbacks.append(self._gc)
        self._task = asyncio.get_running_loop().create_task(self._heart())
        if self._sample:
            self._thread = threading.Thread(target=self._sampler, daemon=True)
            self._thread.start()

    async def stop(self) -> None:
        self._stop = True
        self.cpu = (time.thread_time() - self._cpu[0], time.process_time() - self._cpu[1])
        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)
        if self._task is not None:
            self._task.cancel()
        if self._thread is not None:
            self._thread.join()

    def _gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            where = "loop" if threading.get_ident() == self._loop_thread else "other"
            self.gc_pauses.append((info["generation"], time.perf_counter() - self._gc_start, where))
            self.gc_at.append(self._gc_start)

    async def _heart(self) -> None:
        while not self._stop:
            due = time.perf_counter() + BEAT
            self._beat = due
            await asyncio.sleep(BEAT)
            self.beats.append((due, max(0.0, time.perf_counter() - due)))

    def _sampler(self) -> None:
        while not self._stop:
            time.sleep(SAMPLE)
            if time.perf_counter() - self._beat > LATE:
                frame = sys._current_frames().get(self._loop_thread)
                if frame is not None:
                    self.samples.append((time.perf_counter(), _where(frame)))

    def summary(self, since: float = 0.0) -> dict:
        """p50/p95/max in ms of the heartbeat's lateness from `since` (a perf_counter time) on,
        the waits over 100 ms, the garbage collector's pauses, and the CPU seconds of the loop
        thread and of the others (the listing worker) from start() to stop()."""
        late = sorted(x for due, x in self.beats if due >= since) or [0.0]
        q = lambda p: late[min(len(late) - 1, int(p * (len(late) - 1)))] * 1000  # noqa: E731
        gc2 = [s for g, s, _ in self.gc_pauses if g == 2]
        return {"loop_p50_ms": q(0.5), "loop_p95_ms": q(0.95), "loop_max_ms": late[-1] * 1000,
                "loop_over_100ms": sum(x > 0.1 for x in late), "gc_runs": len(self.gc_pauses),
                "gc_max_ms": max((s for _, s, _ in self.gc_pauses), default=0.0) * 1000,
                "gc2_runs": len(gc2), "gc_total_ms": sum(s for _, s, _ in self.gc_pauses) * 1000,
                "loop_cpu_s": self.cpu[0], "other_cpu_s": self.cpu[1] - self.cpu[0],
                "gc_longest": sorted(([g, round(s * 1000, 1), t, round(at - self._t0, 3)] for (g, s, t), at
                                      in zip(self.gc_pauses, self.gc_at)), key=lambda p: -p[1])[:3]}

    def report(self, t0: float, top: int = 25, file=sys.stderr) -> None:
        """The functions the loop thread was in most often while late (by sample count), and
        for each wait over 50 ms its start, length and the stacks sampled meanwhile."""
        if not self.samples:
            return
        for due, late in self.beats:
            if late < 0.05:
                continue
            print(f"wait at {due - t0:.3f} s: {late * 1000:.0f} ms", file=file)
            for t, stack in self.samples:
                if due <= t <= due + late:
                    inner = [f for f in stack if "asyncio/" not in f and "_callback.py" not in f][-12:]
                    print(f"  +{(t - due) * 1000:4.0f} ms " + " < ".join(reversed(inner)), file=file)
        own, anywhere = collections.Counter(), collections.Counter()
        for _, stack in self.samples:
            own[stack[-1]] += 1
            anywhere.update(set(stack))
        print(f"stall samples: {len(self.samples)} (every {SAMPLE * 1000:.0f} ms while the loop was "
              f">{LATE * 1000:.0f} ms late)", file=file)
        print("  innermost frame:", file=file)
        for where, n in own.most_common(top):
            print(f"  {n:5d}  {where}", file=file)
        print("  anywhere on the stack:", file=file)
        for where, n in anywhere.most_common(top):
            print(f"  {n:5d}  {where}", file=file)


def _where(frame) -> tuple[str, ...]:
    out = []
    for fs in traceback.extract_stack(frame)[-40:]:
        path = fs.filename
        for cut in ("site-packages/", _ROOT, "lib/python3"):
            if cut in path:
                path = path.split(cut, 1)[1]
        out.append(f"{path}:{fs.name}")
    return tuple(out)
