"""Per-trial fixed cost of a sweep: one interpreter per trial (`--backend process`, the path
of every sweep before long-lived workers) against long-lived workers (`--backend local`).

    python benchmarks/trial_overhead.py [--config configs/default.yaml] [--set k=v ...]
                                        [--trials 3] [--rounds 2] [--backends process,local]

Each round runs the same `--tune` sweep (learning_rate over `--trials` values, 1 worker)
once per backend, interleaved, so the machine's load from other jobs falls on both. For
every trial it prints:
  fixed  from the moment the coordinator starts the trial (its `running` record in
         results.jsonl) to the trial's `started` event, which the trainer emits right
         before its first batch: interpreter start, torch import, data load, model build;
  wall   the trial's seconds in results.csv (start to end, as the coordinator saw them).
A long-lived worker pays the interpreter, the import and the data load on its first
trial only: the figures are given for the first trial and for the later ones.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def sweep(backend: str, args, tmp: Path, round_: int) -> list[dict]:
    hyper = tmp / "bench.test"
    values = ", ".join(f"{0.001 * (1 + i / 10):.5f}" for i in range(args.trials))
    hyper.write_text(f"learning_rate choice [{values}]\n")
    runs = tmp / f"runs-{backend}-{round_}"
    cmd = [sys.executable, "-m", "diffrec_tui.cli", "--tune", str(hyper), "--config", str(args.config),
           "--workers", "1", "--runs-dir", str(runs), "--backend", backend, "--set", "device=cpu"]
    for kv in args.set:
        cmd += ["--set", kv]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{backend}: exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    [sd] = [p for p in runs.iterdir() if p.is_dir()]
    return trials(sd)


def trials(sd: Path) -> list[dict]:
    recs = [json.loads(x) for x in (sd / "results.jsonl").read_text().splitlines() if x.strip()]
    out = []
    for rec in recs:
        if rec["status"] != "running":
            continue
        end = next(r for r in recs if r["trial"] == rec["trial"] and r["status"] not in ("running",))
        events = [json.loads(x) for x in (sd / rec["run"] / "events.jsonl").read_text().splitlines() if x.strip()]
        started = next(e for e in events if e["type"] == "started")
        out.append({"trial": rec["trial"], "fixed": started["time"] - rec["time"], "wall": end["seconds"],
                    "setup": started.get("setup_seconds"), "data": (started.get("data_load") or {}).get("seconds")})
    return sorted(out, key=lambda t: t["trial"])


def mean(xs) -> str:
    xs = [x for x in xs if x is not None]
    return f"{statistics.mean(xs):6.2f}" if xs else "     -"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(REPO / "configs" / "default.yaml"))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--backends", default="process,local")
    args = ap.parse_args()
    backends = args.backends.split(",")
    print(f"config {args.config} {' '.join('--set ' + s for s in args.set)}; {args.trials} trials x "
          f"{args.rounds} rounds, 1 worker; load {os.getloadavg()[0]:.2f}", flush=True)
    got: dict[str, list[list[dict]]] = {b: [] for b in backends}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for b in backends:
                t0 = time.perf_counter()
                ts = sweep(b, args, Path(tmp), r)
                got[b].append(ts)
                print(f"round {r + 1} {b:8s} sweep {time.perf_counter() - t0:6.1f}s  fixed " +
                      " ".join(f"{t['fixed']:.2f}" for t in ts) + "  wall " + " ".join(f"{t['wall']:.2f}" for t in ts)
                      + f"  (load {os.getloadavg()[0]:.2f})", flush=True)
    print("\nbackend   fixed: first  later | wall: first  later | setup  data-load (s, means over rounds)")
    for b in backends:
        first = [ts[0] for ts in got[b]]
        later = [t for ts in got[b] for t in ts[1:]]
        print(f"{b:8s}        {mean(t['fixed'] for t in first)} {mean(t['fixed'] for t in later)} |"
              f"       {mean(t['wall'] for t in first)} {mean(t['wall'] for t in later)} |"
              f" {mean(t['setup'] for t in first + later)} {mean(t['data'] for t in first + later)}")


if __name__ == "__main__":
    main()
