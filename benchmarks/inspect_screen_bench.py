"""Inspect screen latencies (Pilot-driven, headless): trajectory steps and what-if edits.

Run from the repository root:
    python benchmarks/inspect_screen_bench.py RUN_DIR [--user U] [--steps N] [--edits N]
    python benchmarks/inspect_screen_bench.py --train [--config configs/default.yaml]

RUN_DIR is a finished run (one trained from configs/default.yaml for the issue's figures);
--train trains one first, in-process with one thread, into a temporary runs directory.
The app opens on the Inspect screen with that run selected, then measures:
  open     Inspect shown -> the run's Inspector loaded and the first user painted
           (includes importing torch in the worker thread)
  user     enter in the user field -> that user's panels painted
  step     `,` / `.` pressed -> the chart of the previous/next reverse step painted
  what-if  `x` on a history row (remove it) -> the re-denoised top-K painted
  add      enter in the add-item field -> the re-denoised top-K painted
For each: median, 95th percentile and maximum in milliseconds.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from paint_probe import ROOT, Probe, mark_handled, pct, timed  # noqa: E402  (puts ROOT on sys.path)
from diffrec_tui.screens.inspect import InspectScreen  # noqa: E402
from engine.config import files as config_files  # noqa: E402

# "handled" = the screen has applied the change (a step drawn, a worker's result applied)
InspectScreen.action_step = mark_handled(InspectScreen.action_step)
InspectScreen._user_loaded = mark_handled(InspectScreen._user_loaded)
InspectScreen._whatif_done = mark_handled(InspectScreen._whatif_done)


async def settle(pilot, screen, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while screen.busy or screen.view is None:
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out; message: {screen.error or screen._busy}")
        await pilot.pause(0.02)
    await pilot.pause(0.1)


def train(config: str) -> Path:
    from engine.data import loaders as data
    from engine.training import trainer
    from engine.records.runs import RunDir
    cfg = config_files.load(config, ["threads=1"])
    run = RunDir.create(Path(tempfile.mkdtemp(prefix="diffrec-inspect-bench-")), cfg)
    t0 = time.perf_counter()
    trainer.fit_into(run, cfg, data.load(cfg))
    print(f"trained {run.path} in {time.perf_counter() - t0:.0f}s")
    return run.path


async def main(args) -> None:
    run = Path(args.run_dir) if args.run_dir else train(args.config)
    app = Probe(config=config_files.load(args.config), config_path=args.config, runs_dir=run.parent, start="inspect")
    app.highlighted_run = run  # what the Runs table would have selected
    rows: dict[str, list[tuple[float, float]]] = {"step": [], "what-if": [], "add": [], "user": []}
    async with app.run_test(size=(140, 42)) as pilot:
        t0 = time.perf_counter()
        while type(app.screen) is not InspectScreen:
            await pilot.pause(0.01)
        screen = app.screen
        await settle(pilot, screen)
        opened = time.perf_counter() - t0
        insp = screen.insp
        print(f"run {run.name}: {insp.model}, {insp.n_users} users x {insp.n_items} items, "
              f"{insp.cfg['steps']} steps, dims {insp.cfg['dims_dnn']}")

        users = [args.user + i for i in range(args.users)]
        for u in users:
            field = screen.query_one("#insp-user")
            field.value = str(u)
            field.focus()
            rows["user"].append(await timed(pilot, "enter"))
            await settle(pilot, screen)
        screen.query_one("#insp-history").focus()
        n_hist = len(screen.view.history)

        steps = screen.view.steps
        for i in range(args.steps):  # walk down to the input and back up, repeatedly
            key = "comma" if (i // steps) % 2 == 0 else "full_stop"
            rows["step"].append(await timed(pilot, key))
            await pilot.pause(0.02)

        table = screen.query_one("#insp-history")
        for i in range(args.edits):
            table.move_cursor(row=i % n_hist)
            rows["what-if"].append(await timed(pilot, "x"))
            await settle(pilot, screen)
            await pilot.press("z")
            await settle(pilot, screen)

        hist = {h.item for h in screen.view.history}
        extra = [i for i in range(insp.n_items) if i not in hist][:args.edits]
        for item in extra:
            await pilot.press("a")
            screen.query_one("#insp-add").value = str(item)
            await pilot.pause(0.05)
            rows["add"].append(await timed(pilot, "enter"))
            await settle(pilot, screen)
            await pilot.press("escape", "z")
            await settle(pilot, screen)

    print(f"open (Inspector load incl. torch import, first user painted): {opened * 1000:.0f} ms")
    print(f"{'':10}{'n':>4}  {'handled ms (median / p95 / max)':>34}  {'painted ms (median / p95 / max)':>34}")
    for name, vals in rows.items():
        if not vals:
            continue
        h = [v[0] for v in vals]
        p = [v[1] for v in vals]
        print(f"{name:<10}{len(vals):>4}  {statistics.median(h):>12.1f} {pct(h, 0.95):>10.1f} {max(h):>10.1f}"
              f"  {statistics.median(p):>12.1f} {pct(p, 0.95):>10.1f} {max(p):>10.1f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?", help="a finished run (else --train)")
    ap.add_argument("--train", action="store_true", help="train a run from --config first")
    ap.add_argument("--config", default=str(ROOT / "configs" / "default.yaml"))
    ap.add_argument("--user", type=int, default=0, help="first user to inspect")
    ap.add_argument("--users", type=int, default=3, help="users picked in turn (the last one is measured)")
    ap.add_argument("--steps", type=int, default=30, help="trajectory steps to press")
    ap.add_argument("--edits", type=int, default=10, help="what-if removals and additions to time")
    a = ap.parse_args()
    if not a.run_dir and not a.train:
        ap.error("pass RUN_DIR or --train")
    asyncio.run(main(a))
