"""Key-press latency of the app while a run trains (Pilot-driven, headless).

Run from the repository root:  python benchmarks/app_key_latency.py [--presses N] [--config PATH]

Starts the app on the Train screen, presses `s` to train the config (default:
configs/default.yaml, a worker process on all cores), waits for the first epoch, then
presses keys at irregular intervals while the charts follow the run:
  k        next K on the Train screen (both metric charts redraw)
  3 / 2    switch to Runs and back to Train (after each screen was shown once)
For each press it records
  handled  key sent -> the bound action has run
  painted  key sent -> the next frame handed to the terminal driver after that
and prints the median, 95th percentile and maximum in milliseconds. The run is stopped
(SIGINT, best checkpoint kept) at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from paint_probe import ROOT, Probe, mark_handled, pct, timed  # noqa: E402  (puts ROOT on sys.path)
from diffrec_tui.screens.runs import RunsScreen  # noqa: E402
from diffrec_tui.screens.train import TrainScreen  # noqa: E402
from engine.config import files as config_files  # noqa: E402

TrainScreen.action_next_k = mark_handled(TrainScreen.action_next_k)
TrainScreen.on_screen_resume = mark_handled(TrainScreen.on_screen_resume)
RunsScreen.on_screen_resume = mark_handled(RunsScreen.on_screen_resume)


async def main(args) -> None:
    cfg = config_files.load(args.config)
    cfg["epochs"] = max(cfg["epochs"], 200)  # keep it training for the whole measurement
    runs = Path(tempfile.mkdtemp(prefix="diffrec-latency-"))
    app = Probe(config=cfg, config_path=args.config, runs_dir=runs, start="train")
    rows: dict[str, list[tuple[float, float]]] = {"k": [], "3 (to Runs)": [], "2 (to Train)": []}
    async with app.run_test(size=(140, 42)) as pilot:
        await pilot.press("s")
        deadline = time.perf_counter() + 300
        while app.live is None or app.live.state.epoch < 1:
            if time.perf_counter() > deadline:
                raise SystemExit("no epoch after 300 s")
            if app.live is not None and not app.live.state.active:
                raise SystemExit(f"the run ended early: {app.live.state.reason}")
            await pilot.pause(0.1)
        print(f"training: {app.live.id}, epoch {app.live.state.epoch}/{app.live.state.total_epochs}", flush=True)
        await pilot.press("3")  # show each screen once (its first build is not a key press cost)
        await pilot.pause(0.5)
        await pilot.press("2")
        await pilot.pause(0.5)
        rng = random.Random(0)
        for i in range(args.presses):
            rows["k"].append(await timed(pilot, "k", timeout=5))
            await asyncio.sleep(rng.uniform(0.05, 0.25))
            if i % 3 == 0:
                rows["3 (to Runs)"].append(await timed(pilot, "3", timeout=5))
                await asyncio.sleep(rng.uniform(0.05, 0.25))
                rows["2 (to Train)"].append(await timed(pilot, "2", timeout=5))
                await asyncio.sleep(rng.uniform(0.05, 0.25))
        epochs_seen = app.live.state.epoch
        await pilot.press("x")
        while app.live.state.active:
            await pilot.pause(0.1)
    print(f"run status {app.live.state.status} after epoch {epochs_seen} (events followed while measuring)")
    print(f"{'key':<14}{'n':>4}  {'handled p50/p95/max ms':>24}  {'painted p50/p95/max ms':>24}")
    for key, vals in rows.items():
        h = [v[0] for v in vals]
        p = [v[1] for v in vals]
        print(f"{key:<14}{len(vals):>4}  {statistics.median(h):8.1f} {pct(h, .95):7.1f} {max(h):7.1f}"
              f"  {statistics.median(p):8.1f} {pct(p, .95):7.1f} {max(p):7.1f}")
    try:
        import os
        print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    except OSError:
        pass


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--presses", type=int, default=30)
    ap.add_argument("--config", default=str(ROOT / "configs" / "default.yaml"))
    asyncio.run(main(ap.parse_args()))
