"""A comparison directory (`--compare --seeds`): several models' seed groups on one split,
their tuned values, and the analysis (no torch).

runs/compare-<YYYYmmdd-HHMMSS>-<dataset>/
  compare.json   what was asked (models, seeds, metrics), per model its seed group, its
                 tuning sweep and the values chosen on validation, and the analysis below
  summary.csv    one row per model: mean +- SD, difference to the best, p-values, mark
  sweep-*-tune-<model>/   the tuning sweep of a baseline (engine.records.sweeps)
  sweep-<stamp>-seeds_<model>/  the model's seed group (engine.records.seeds)

The reference model ("best") is the one with the best mean validation metric: test
metrics never choose. Every other model is tested against it per user (engine.analysis.significance).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from pathlib import Path

from engine.records import seeds as seeds_mod
from engine.errors import InputError
from engine.analysis.significance import against_best

FILE, CSV_FILE = "compare.json", "summary.csv"
KIND = "diffrec-tui comparison"


def write(path: Path, record: dict) -> None:
    tmp = path / (FILE + ".tmp")
    tmp.write_text(json.dumps({"kind": KIND, **record, "time": round(time.time(), 3)}, indent=1), encoding="utf-8")
    os.replace(tmp, path / FILE)


def read(path: str | Path) -> dict:
    """compare.json, checked like user input."""
    p = Path(path) / FILE
    try:
        rec = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise InputError(f"comparison: {Path(path)} has no readable {FILE}") from None
    if not isinstance(rec, dict) or rec.get("kind") != KIND or not isinstance(rec.get("entries"), dict):
        raise InputError(f"comparison: {p} is not a comparison record")
    return rec


def list_comparisons(root: str | Path) -> list[Path]:
    """Comparison directories under `root`, newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.is_dir() and (p / FILE).is_file()), reverse=True)


def groups(path: str | Path, rec: dict | None = None) -> dict[str, seeds_mod.Group]:
    """model -> its seed group, for the models whose group directory exists."""
    rec = rec or read(path)
    out = {}
    for model, entry in rec["entries"].items():
        name = entry.get("group") if isinstance(entry, dict) else None
        if isinstance(name, str) and "/" not in name and (Path(path) / name).is_dir():
            out[model] = seeds_mod.load(Path(path) / name)
    return out


def analyse(found: dict[str, seeds_mod.Group], keys: list[str], metric: str) -> dict:
    """Mean +- SD per model and split, the best model by mean validation `metric`, and each
    other model's paired tests against it on every key of `keys` (test metrics)."""
    rows = {m: {"seeds": sorted(g.runs), "missing": g.missing,
                "valid": _spread(g, "valid", metric),
                "test": {k: _spread(g, "test", k) for k in keys}, "vs_best": {}} for m, g in found.items()}
    done = {m: g for m, g in found.items() if g.runs and math.isfinite(g.spread("valid", metric).mean)}
    best = max(done, key=lambda m: done[m].spread("valid", metric).mean) if done else None
    if best is not None and len(done) > 1:
        for key in keys:
            vectors = {m: seeds_mod.per_user([g.runs[s] for s in sorted(g.runs)], key)[0] for m, g in done.items()}
            for m, r in against_best(vectors, best).items():
                t = r.test
                rows[m]["vs_best"][key] = {"diff": t.diff, "ci_low": t.ci_low, "ci_high": t.ci_high,
                                           "p_wilcoxon": t.p_wilcoxon, "p_ttest": t.p_ttest,
                                           "p_wilcoxon_holm": r.p_wilcoxon_holm, "p_ttest_holm": r.p_ttest_holm,
                                           "significant": r.significant, "n_users": t.n_users}
    return {"best": best, "metric": metric, "keys": keys, "rows": rows}


def _spread(g: seeds_mod.Group, split: str, key: str) -> dict:
    s = g.spread(split, key)
    return {"mean": None if s.n == 0 else s.mean, "sd": s.sd, "n": s.n}


def summary_csv(path: Path, rec: dict) -> Path:
    """summary.csv from the record's analysis: one row per model."""
    res = rec.get("result") or {}
    keys, metric = res.get("keys", []), res.get("metric", "")
    cols = ["model", "seeds", "tuned", f"valid_{metric}_mean", f"valid_{metric}_sd"]
    for k in keys:
        cols += [f"test_{k}_mean", f"test_{k}_sd", f"{k}_diff_vs_best", f"{k}_ci_low", f"{k}_ci_high",
                 f"{k}_p_wilcoxon_holm", f"{k}_p_ttest_holm", f"{k}_significant"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for model, row in res.get("rows", {}).items():
        tuned = (rec["entries"].get(model) or {}).get("tuned") or {}
        cells = [model, " ".join(map(str, row["seeds"])), " ".join(f"{k}={v}" for k, v in tuned.items()),
                 row["valid"]["mean"], row["valid"]["sd"]]
        for k in keys:
            t, vs = row["test"][k], row["vs_best"].get(k) or {}
            cells += [t["mean"], t["sd"], *(vs.get(c) for c in ("diff", "ci_low", "ci_high", "p_wilcoxon_holm",
                                                                "p_ttest_holm", "significant"))]
        w.writerow(["" if c is None else c for c in cells])
    (path / CSV_FILE).write_text(buf.getvalue(), encoding="utf-8")
    return path / CSV_FILE
