"""Thousands of runs: listing time, the Runs screen's time to first rows and to the full
table, key latency while it loads, the app's memory, and --run's peer summary.

Run from the repository root:  python benchmarks/run_index_bench.py [--n 100 1000 10000]

For each N it writes N synthetic run directories (full configs, 10-40 epochs of events,
summaries; finished, stopped, failed and dead runs, a tenth of them inside sweeps) to a
temporary folder, then measures, each phase in a fresh process (cold: nothing in memory):
  first build  listing with no index file (every run read from its files)
  cold         listing in a new process with the index file in place
  warm         a second listing in the same process (the per-process cache)
  old scan     the listing before the index (every run read in full with load_run, the
               pure-Python YAML loader), on at most --old-max runs, scaled to N
  peers        what --run's summary adds: the same-data runs of the newest run
  Runs screen  the app started on Config, `3` pressed: the screen up (its widgets, no rows),
               first rows shown, the table settled (every run read; the table holds the rows
               its view needs, more as the cursor moves down, 500 at most until `n`), how long
               a key (cursor down every 50 ms) waited while loading (p50/p95/max) and the event
               loop's longest stall meanwhile, the longest key wait once settled, peak RSS.
               DIFFREC_BENCH_STALLS=1 prints where the loop thread was during each stall
               (benchmarks/stall_probe.py)
The figures are seconds unless marked; the machine is shared, so compare the rows of one
run (old scan vs index) rather than figures from different sessions.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

STALLS = bool(os.environ.get("DIFFREC_BENCH_STALLS"))  # sample the loop thread's stack while it is late
MODELS = ("DiffRec", "LDiffRec", "EASE", "MultiVAE", "Pop")


def make_runs(root: Path, n: int, seed: int = 0) -> None:
    """n run directories as the trainer writes them (a tenth in three sweeps)."""
    from engine.config import files as config_files
    from engine.config import schema as config_mod
    from engine.records.sweeps import SWEEP_FILE

    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    sweeps = [root / f"sweep-20250101-00000{i}-hyper" for i in range(3)]
    for s in sweeps:
        s.mkdir()
        (s / SWEEP_FILE).write_text("name: hyper\nplan: []\nbase: {}\n", encoding="utf-8")
    configs = {}
    for i in range(n):
        model = MODELS[i % len(MODELS)]
        steps = rng.choice((5, 10, 40, 100))
        key = (model, steps)
        if key not in configs:
            cfg = config_mod.defaults()
            cfg.update(model=model, dataset="ml-1m_clean", steps=steps)
            tmp = root / ".cfg.yaml"
            config_files.save(cfg, tmp)
            configs[key] = tmp.read_text(encoding="utf-8")
            tmp.unlink()
        parent = sweeps[i % 3] if i % 10 == 0 else root
        d = parent / f"2025{1 + i // 100000:02d}{1 + (i // 3000) % 28:02d}-{i % 3000 // 60:02d}{i % 60:02d}00-{model}-ml-1m_clean"
        d.mkdir()
        (d / "config.yaml").write_text(configs[key], encoding="utf-8")
        write_events(d, model, rng, i)
        (d / "worker.log").write_text("", encoding="utf-8")


def write_events(d: Path, model: str, rng: random.Random, i: int) -> None:
    t = 1735689600.0 + i * 100
    epochs = rng.randint(10, 40)
    lines = [{"type": "started", "time": t, "pid": 999_999_999, "device": "cpu", "model": model,
              "dataset": {"n_users": 5949, "n_items": 2810, "n_train": 571531}, "parameters": 1_000_000,
              "fingerprint": "fp-ml-1m" if i % 4 else "fp-other", "resumed_from_epoch": None}]
    best = None
    for e in range(1, epochs + 1):
        t += 1.5
        lines.append({"type": "epoch", "time": round(t, 3), "epoch": e, "loss": round(500 / e, 4),
                      "seconds": 1.5, "epochs": 40})
        if e % 2 == 0:
            r = round(0.18 * (1 - 0.9 ** e) + rng.uniform(-0.01, 0.01), 6)
            m = {f"{n}@{k}": round(r * k / 20 * (0.6 if n == "ndcg" else 1), 6) for n in ("recall", "ndcg")
                 for k in (10, 20, 50, 100)}
            lines.append({"type": "eval", "time": round(t, 3), "epoch": e, "valid": m, "test": m, "seconds": 0.6})
            if best is None or r > best[1]["recall@20"]:
                best = (e, m)
                lines.append({"type": "checkpoint", "time": round(t, 3), "epoch": e})
    end = "finished" if i % 25 else rng.choice(("stopped", "failed", None))
    if end in ("finished", "stopped"):
        summary = {"status": end, "best_epoch": best[0], "epochs_run": epochs, "valid": best[1], "test": best[1],
                   "train_seconds": epochs * 1.5, "eval_seconds": epochs * 0.3, "reason": "done"}
        lines.append({"type": end, "time": t + 0.1, **summary})
        (d / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    elif end == "failed":
        lines.append({"type": "failed", "time": t + 0.1, "reason": "loss is NaN", "kind": "training"})
    (d / "events.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")


# ---------------------------------------------------------------- phases (each in its own process)

def phase_list(root: Path) -> dict:
    from engine.records.run_index import RunIndex
    t0 = time.perf_counter()
    runs = RunIndex.shared(root).runs()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = RunIndex.shared(root).runs()
    warm = time.perf_counter() - t0
    assert len(runs) == len(again)
    return {"runs": len(runs), "list": first, "warm": warm}


def phase_old(root: Path, most: int) -> dict:
    from engine.records.run_index import run_dirs
    from engine.records.runs import load_run
    dirs = run_dirs(root)
    sample = dirs[:most]
    t0 = time.perf_counter()
    for p in sample:
        r = load_run(p)
        r.status, r.best  # noqa: B018  (what a row reads)
    return {"old": (time.perf_counter() - t0) * len(dirs) / max(1, len(sample)), "old_sampled": len(sample)}


def phase_peers(root: Path) -> dict:
    from engine.records.listing import peers
    from engine.records.runs import RunDir
    newest = max((p for p in root.iterdir() if p.is_dir() and not p.name.startswith("sweep-")), key=lambda p: p.name)
    t0 = time.perf_counter()
    found = peers(RunDir(newest))
    return {"peers": time.perf_counter() - t0, "peer_rows": len(found)}


def phase_screen(root: Path) -> dict:
    return asyncio.run(_screen(root))


async def _screen(root: Path) -> dict:
    import resource

    from paint_probe import Probe
    from stall_probe import StallProbe
    from engine.config import files as config_files

    cfg = config_files.load(ROOT / "configs" / "default.yaml")
    app = Probe(config=cfg, config_path=ROOT / "configs" / "default.yaml", runs_dir=root)
    out, waits, presses = {}, [], []
    async with app.run_test(size=(140, 42)) as pilot:
        await pilot.pause(0.5)
        probe = StallProbe(sample=STALLS)
        probe.start()
        t0 = time.perf_counter()
        presses.append(asyncio.create_task(pilot.press("3")))  # not awaited: pilot.press waits for the app to idle
        while True:
            screen = app.screen
            table = getattr(screen, "table", None) if app.current_mode == "runs" and screen.is_mounted else None
            if table is not None and "shown" not in out:
                out["shown"] = time.perf_counter() - t0
            if table is not None and table.row_count and "first" not in out:
                out["first"] = time.perf_counter() - t0
            if table is not None and screen.settled and table.row_count > 0:
                out["full"] = time.perf_counter() - t0
                break
            if time.perf_counter() - t0 > 600:
                raise SystemExit("the Runs table did not fill in 600 s")
            if table is not None and table.row_count:
                waits.append(await _key_wait(pilot, presses))
            await asyncio.sleep(KEY_EVERY)
        await probe.stop()
        out.update(probe.summary(since=t0 + out.get("first", 0.0)))  # while rows load (keys are pressed)
        probe.report(t0)
        out.update(_waits("key", waits))
        table.move_cursor(row=0)
        settled = []  # the same keys once every row is in: what the table costs without any loading
        for _ in range(SETTLED_KEYS):
            settled.append(await _key_wait(pilot, presses))
            await asyncio.sleep(KEY_EVERY)
        out.update(_waits("settled", settled))
        await asyncio.gather(*presses)
        out["rows"] = table.row_count
        out["listed"] = len(screen.rows)
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


KEY_EVERY = 0.05  # a key (cursor down) this often while the screen loads
SETTLED_KEYS = 40


async def _key_wait(pilot, presses: list) -> float:
    """Seconds from pressing cursor-down to the table handling it."""
    from paint_probe import marks, mark_handled
    from textual.widgets import DataTable
    if not hasattr(DataTable.action_cursor_down, "__wrapped__"):
        DataTable.action_cursor_down = mark_handled(DataTable.action_cursor_down)
    marks.clear()
    k0 = time.perf_counter()
    presses.append(asyncio.create_task(pilot.press("down")))
    while "handled" not in marks and time.perf_counter() - k0 < 30:
        await asyncio.sleep(0.001)
    return marks.get("handled", float("nan")) - k0


def _waits(name: str, waits: list[float]) -> dict:
    """p50, p95, max of key waits in ms, and how many took over 100 ms."""
    from paint_probe import pct
    ms = [w * 1000 for w in waits] or [0.0]
    return {f"{name}_p50_ms": pct(ms, 0.5), f"{name}_p95_ms": pct(ms, 0.95), f"{name}_max_ms": max(ms),
            f"{name}s_over_100ms": sum(m > 100 for m in ms), f"{name}s": len(waits)}


def run_phase(name: str, root: Path, *extra: str) -> dict:
    res = subprocess.run([sys.executable, __file__, "--phase", name, "--root", str(root), *extra],
                         capture_output=True, text=True, cwd=ROOT)
    if res.returncode:
        raise SystemExit(f"phase {name} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def measure(n: int, old_max: int, screen: bool) -> dict:
    from engine.records.run_index import INDEX_FILE
    tmp = Path(tempfile.mkdtemp(prefix="diffrec-index-"))
    try:
        root = tmp / "runs"
        t0 = time.perf_counter()
        make_runs(root, n)
        made = time.perf_counter() - t0
        build = run_phase("list", root)  # no index file yet
        cold = run_phase("list", root)  # the index file written by the first
        row = {"n": n, "made": made, "first_build": build["list"], "cold": cold["list"], "warm": cold["warm"],
               "index_kb": (root / INDEX_FILE).stat().st_size / 1024 if (root / INDEX_FILE).exists() else 0.0}
        row.update(run_phase("old", root, "--old-max", str(old_max)))
        row.update(run_phase("peers", root))
        if screen:
            row.update(run_phase("screen", root))
        return row
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--old-max", type=int, default=500, help="runs the old scan reads (then scaled to N)")
    ap.add_argument("--no-screen", action="store_true", help="skip the Runs screen measurement")
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        fn = {"list": phase_list, "old": lambda r: phase_old(r, args.old_max), "peers": phase_peers,
              "screen": phase_screen}[args.phase]
        print(json.dumps(fn(Path(args.root))))
        return
    cols = ("n", "first_build", "cold", "warm", "old", "peers", "shown", "first", "full", "key_p50_ms",
            "key_p95_ms", "key_max_ms", "loop_max_ms", "settled_max_ms", "rss_mb", "index_kb")
    print("  ".join(f"{c:>11}" for c in cols), flush=True)
    for n in args.n:
        row = measure(n, args.old_max, not args.no_screen)
        print("  ".join(f"{row[c]:>11.3f}" if isinstance(row.get(c), float) else f"{row.get(c, '-'):>11}"
                        for c in cols), flush=True)
    print(f"old = the scan before the index, read on {min(args.old_max, max(args.n))} runs at most and scaled "
          f"to N; shown/first/full = Runs screen up, its first rows, every run read and the rows in view in "
          f"the table, after pressing 3; key_* = how long a key (cursor down every {KEY_EVERY * 1000:.0f} ms) waited while "
          f"loading; loop_max_ms = the event loop's longest stall meanwhile (a heartbeat's lateness); "
          f"settled_max_ms = the longest key wait once loaded ({SETTLED_KEYS} keys); rss_mb = the app's peak RSS")
    try:
        print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    except OSError:
        pass


if __name__ == "__main__":
    main()
