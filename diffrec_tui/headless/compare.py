"""`diffrec-tui --compare CONFIG [--models A,B,...] [--seeds 1,2,3]`: several models on one
dataset, one table.

Each model runs on CONFIG with `model` switched and the `--set` overrides applied (a key
that does not apply to a model is ignored by it); baselines are tuned on validation first,
and each model runs once per seed (diffrec_tui.headless.group_compare). This module checks
the arguments and the data, and keeps the table of every run (valid and test Recall/NDCG
@10/@20, seconds; best value per metric in bold), saved as CSV in the runs directory.
No torch in this process.
"""
from __future__ import annotations

import csv
import sys
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from engine.config import schema as config_mod
from engine.errors import InputError, os_errors
from engine.records.runs import RUNS_FIX, RunDir, _slug, runs_root
from engine.records.seeds import parse as parse_seeds

DEFAULT_MODELS = ("Pop", "ItemKNN", "EASE", "MultiVAE", "DiffRec")  # cheapest first
METRICS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")
COLUMNS = (["model", "status", "best_epoch"] + [f"{s}_{m}" for s in ("valid", "test") for m in METRICS]
           + ["train_seconds", "eval_seconds", "run_dir"])


def main(args) -> int:
    models = parse_models(args.models)
    configs = model_configs(args, models)
    seeds = parse_seeds(args.seeds) if args.seeds else [configs[0]["seed"]]
    preflight(configs)
    from diffrec_tui.headless.group_compare import main as grouped  # tuned baselines, seed groups, significance
    return grouped(args, configs, runs_root(args.runs_dir, configs[0]), seeds)


# ---------------------------------------------------------------- configs

def parse_models(text: str | None) -> list[str]:
    """'ease, Pop' -> ['EASE', 'Pop'] (case-insensitive, duplicates dropped)."""
    if not text:
        return list(DEFAULT_MODELS)
    known = config_mod.SCHEMA["model"].choices
    out = []
    for name in (x.strip() for x in text.split(",")):
        match = next((m for m in known if m.lower() == name.lower()), None)
        if match is None:
            raise InputError(f"--models: unknown model `{name}`; choose from {', '.join(known)}")
        if match not in out:
            out.append(match)
    if not out:
        raise InputError(f"--models: give at least one model, e.g. --models {','.join(DEFAULT_MODELS)}")
    return out


def model_configs(args, models: list[str]) -> list[dict]:
    """CONFIG with --set/--device applied, once per model with `model` switched."""
    from diffrec_tui.headless.configs import load_config

    if any(o.partition("=")[0].strip() == "model" for o in args.overrides):
        raise InputError("--compare: choose the models with --models, not --set model=...")
    base = load_config(args.compare, args)
    return [config_mod.resolve({**base, "model": m}) for m in models]


def preflight(configs: list[dict]) -> None:
    """Load the data once and check every model against it before any run starts, so bad
    input fails at once with one message instead of after the first models' training."""
    from engine.data import loaders as data
    from engine.config.model_keys import check

    ds = data.load(configs[0])
    for cfg in configs:
        check(cfg, ds.n_items)
    s = ds.stats
    print(f"dataset {ds.name}: {s['n_users']} users x {s['n_items']} items, {s['n_train']} train, "
          f"{s['n_valid']} valid, {s['n_test']} test interactions", flush=True)


# ---------------------------------------------------------------- one row per run

def row(model: str, run: RunDir, last: dict | None) -> dict:
    last = last or {}
    out = {"model": model, "status": last.get("type", "dead"), "best_epoch": last.get("best_epoch"),
           "train_seconds": last.get("train_seconds"), "eval_seconds": last.get("eval_seconds"),
           "run_dir": str(run.path)}
    for split in ("valid", "test"):
        values = last.get(split) or {}
        for m in METRICS:
            out[f"{split}_{m}"] = values.get(m)
    return out


# ---------------------------------------------------------------- the table

def best_per_column(rows: list[dict]) -> dict[str, float]:
    """The highest value of each metric column over the rows that have one."""
    best = {}
    for col in COLUMNS[3:-3]:
        values = [r[col] for r in rows if isinstance(r.get(col), (int, float))]
        if values:
            best[col] = max(values)
    return best


def _label(col: str) -> str:
    split, metric = col.split("_", 1)
    name, k = metric.split("@")
    return f"{split}\n{'R' if name == 'recall' else 'N'}@{k}"


def print_table(rows: list[dict], title: str, out=None) -> None:
    console = Console(file=out or sys.stdout, width=max(120, Console(file=out or sys.stdout).width))
    best = best_per_column(rows)
    table = Table(title=title)
    table.add_column("model")
    table.add_column("status")
    table.add_column("best\nepoch", justify="right")
    for col in COLUMNS[3:-3]:
        table.add_column(_label(col), justify="right")
    table.add_column("train\ns", justify="right")
    table.add_column("eval\ns", justify="right")
    for r in rows:
        cells = [r["model"], r["status"], "-" if r["best_epoch"] is None else str(r["best_epoch"])]
        for col in COLUMNS[3:-3]:
            v = r[col]
            text = "-" if v is None else f"{v:.4f}"
            cells.append(f"[bold green]{text}[/]" if v is not None and v == best.get(col) else text)
        cells += [_seconds(r["train_seconds"]), _seconds(r["eval_seconds"])]
        table.add_row(*cells)
    console.print(table)
    console.print("best value per metric in bold; the test columns report each model's best-validation checkpoint")


def _seconds(v) -> str:
    return "-" if v is None else f"{v:.1f}"


def save_csv(rows: list[dict], root: Path, dataset: str) -> Path:
    root = Path(root)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = _slug(dataset)
    path = root / f"compare-{stamp}-{safe}.csv"
    n = 2
    while path.exists():
        path = root / f"compare-{stamp}-{safe}-{n}.csv"
        n += 1
    with os_errors("runs dir", path, RUNS_FIX), open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r[k] is None else r[k]) for k in COLUMNS})
    return path
