"""Time to first paint of the app, and proof that importing and painting it loads no torch.

Run from the repository root:  python benchmarks/app_first_paint.py [--repeat N]

Prints, per repetition, in a fresh interpreter each time (so imports are cold-ish):
  import_s       time to import diffrec_tui.app (Textual, the engine's config, numpy ...)
  paint_s        App start -> the first frame of the Config screen goes to the driver
  complete_s     App start -> every form group and the schedule preview are in place
  *_cpu_s        the same spans in CPU time of the app process (less sensitive to a busy machine)
  torch_loaded   whether torch is in sys.modules after painting (must be False)
and the `python -X importtime -c "import diffrec_tui.app"` lines that mention torch (none expected).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import asyncio, json, sys, time
t0 = time.perf_counter()
from diffrec_tui.app import DiffRecApp
from engine.config import files as config
t_import = time.perf_counter() - t0
marks = {}

class Probe(DiffRecApp):
    def _display(self, screen, renderable):
        # The first frame of the Config screen handed to the terminal driver (headless
        # drivers drop it, but it is the frame a terminal would show).
        if renderable is not None and not self._batch_count and type(screen).__name__ == "ConfigScreen":
            marks.setdefault("paint", time.perf_counter())
            marks.setdefault("paint_cpu", time.process_time())
        super()._display(screen, renderable)

async def main():
    cfg = config.load("configs/default.yaml")
    app = Probe(config=cfg, config_path="configs/default.yaml", runs_dir=sys.argv[1])
    t1, c1 = time.perf_counter(), time.process_time()
    async with app.run_test(size=(120, 40)) as pilot:
        while "paint" not in marks:
            await asyncio.sleep(0.005)
        await pilot.pause()
        while not app.screen.ready:
            await pilot.pause(0.01)
        done, done_cpu = time.perf_counter(), time.process_time()
    print(json.dumps({"import_s": round(t_import, 3), "paint_s": round(marks["paint"] - t1, 3),
                      "complete_s": round(done - t1, 3), "paint_cpu_s": round(marks["paint_cpu"] - c1, 3),
                      "complete_cpu_s": round(done_cpu - c1, 3), "torch_loaded": "torch" in sys.modules}))

asyncio.run(main())
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = str(ROOT / "runs")
    rows = []
    for _ in range(args.repeat):
        out = subprocess.run([sys.executable, "-c", CHILD, runs], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(row)
    for key in ("import_s", "paint_s", "complete_s", "paint_cpu_s", "complete_cpu_s"):
        vals = sorted(r[key] for r in rows)
        print(f"{key:<14} median {vals[len(vals) // 2]:.3f} s  (min {vals[0]:.3f}, max {vals[-1]:.3f})")
    print("torch loaded by the app:", any(r["torch_loaded"] for r in rows))
    imp = subprocess.run([sys.executable, "-X", "importtime", "-c", "import diffrec_tui.app"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    torch_lines = [line for line in imp.stderr.splitlines() if "torch" in line]
    total = imp.stderr.strip().splitlines()[-1]
    print(f"-X importtime: {len(imp.stderr.splitlines())} modules, torch lines: {len(torch_lines)}")
    print("  last line:", total)
    try:
        print(f"load average while measuring: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
