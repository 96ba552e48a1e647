"""`diffrec-tui --compare CONFIG --seeds 1,2,3`: is a model really better, or is it noise?

Per model, in a comparison directory (engine.records.comparison): each baseline is first tuned on
validation over its small built-in grid (engine.search.baseline_spaces; keys the user fixed are
kept), with the first seed; the chosen config then runs once per seed (a seed group).
The table gives mean +- sample SD of the test metrics, and each model against the best
one (by mean validation metric): the mean per-user difference with its 95% bootstrap
interval and the Wilcoxon / paired t-test p-values, Holm-corrected across the models.
No torch in this process.
"""
from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from engine import untrusted
from engine.analysis.significance import format_p
from engine.config import schema as config_mod
from engine.config.fields import metric_key
from engine.errors import ExitCode
from engine.processes.cores import share
from engine.records import comparison
from engine.records import seeds as seeds_mod
from engine.records.runs import _slug, make_folder
from engine.records.sweeps import SweepDir, load_sweep
from engine.search import space as tuning
from engine.search.baseline_spaces import hyper_text, space_for

from diffrec_tui.headless import tune
from diffrec_tui.text import headline_keys

INTERRUPTED = (ExitCode.HANGUP, ExitCode.INTERRUPTED, ExitCode.TERMINATED)


def fixed_keys(args) -> set[str]:
    """Keys the user set: in the config file or with --set (never tuned over)."""
    raw = untrusted.read_yaml(args.compare)
    from engine.config import recbole_keys
    keys = set(recbole_keys.translate(raw))
    return keys | {o.partition("=")[0].strip() for o in args.overrides}


def main(args, configs: list[dict], root: Path, seeds: list[int]) -> int:
    first = configs[0]
    path = make_folder(root, f"compare-{datetime.now().strftime('%Y%m%d-%H%M%S')}-{_slug(first['dataset'])}")
    keys = list(headline_keys(first))
    rec = {"dataset": first["dataset"], "models": [c["model"] for c in configs], "seeds": seeds,
           "valid_metric": metric_key(first["valid_metric"]), "keys": keys, "status": "running",
           "created": datetime.now().isoformat(timespec="seconds"), "entries": {}}
    comparison.write(path, rec)
    print(f"comparison {path}: {len(configs)} models x seeds {', '.join(map(str, seeds))}", flush=True)
    fixed = fixed_keys(args)
    codes = []
    for cfg in configs:
        code = run_model(path, rec, cfg, seeds, fixed, args.workers)
        codes.append(code)
        if code in INTERRUPTED:
            break
    rec["status"] = "stopped" if codes[-1] in INTERRUPTED else "finished"
    rec["result"] = comparison.analyse(comparison.groups(path, rec), keys, rec["valid_metric"])
    comparison.write(path, rec)
    csv_path = comparison.summary_csv(path, rec)
    per_run(path, rec, root)
    print_table(rec)
    print(f"summary saved: {csv_path}", flush=True)
    return codes[-1] if codes[-1] in INTERRUPTED else max(codes, default=ExitCode.OK)


def run_model(path: Path, rec: dict, cfg: dict, seeds: list[int], fixed: set[str], workers: int | None) -> int:
    """Tune (a baseline, on validation, first seed), then run the seed group."""
    model = cfg["model"]
    entry = rec["entries"][model] = {"group": None, "tuning": None, "tuned": {}}
    space = space_for(model, fixed)
    if space is not None:
        base = {**cfg, "seed": seeds[0]}
        chosen, code, sweep = tune_model(path, base, space, workers)
        entry.update(tuning=sweep.name, tuned=chosen)
        comparison.write(path, rec)
        if code in INTERRUPTED or not chosen:
            return code if code in INTERRUPTED else ExitCode.FAILED
        cfg = config_mod.resolve({**cfg, **chosen})
    sd = seeds_mod.create(path, cfg, seeds)
    entry["group"] = sd.path.name
    comparison.write(path, rec)
    n, threads = share(cfg, workers, len(seeds))
    print(f"[{model}] seed group {sd.path.name}: seeds {', '.join(map(str, seeds))}", flush=True)
    return tune.execute(sd, n, threads, show_result=False)


def tune_model(path: Path, base: dict, space: tuning.Space, workers: int | None) -> tuple[dict, int, Path]:
    """Grid search on validation; (chosen params, exit code, sweep dir)."""
    strategy, trials = tuning.plan(space, base)
    sd = SweepDir.create(path, f"tune-{base['model']}", space, base, strategy, trials, seed=base["seed"],
                         hyper_text=hyper_text(space))
    n, threads = share(base, workers, len(trials))
    print(f"[{base['model']}] tuning {tuning.format_params({p.key: list(p.values) for p in space.params})} "
          f"on valid {metric_key(base['valid_metric'])} ({len(trials)} trials, {sd.path.name})", flush=True)
    code = tune.execute(sd, n, threads, show_result=False)
    best = load_sweep(sd.path).best
    chosen = dict(best.params) if best else {}
    if best:
        print(f"[{base['model']}] chosen on validation: {tuning.format_params(chosen)} "
              f"(valid {metric_key(base['valid_metric'])} {best.value:.4f})", flush=True)
    return chosen, code, sd.path


# ---------------------------------------------------------------- the tables

def per_run(path: Path, rec: dict, root: Path) -> None:
    """The table of every run (model by model, seed by seed), saved as compare-*.csv in
    the runs directory as a single-seed comparison always was."""
    from engine.records.runs import RunDir

    from diffrec_tui.headless.compare import print_table as print_runs, row, save_csv
    rows = []
    for model, g in comparison.groups(path, rec).items():
        for s in g.seeds:
            if s in g.runs:
                summary = RunDir(g.runs[s]).summary() or {}
                rows.append(row(model, RunDir(g.runs[s]), {**summary, "type": summary.get("status")}))
    print_runs(rows, title=f"{rec['dataset']}: every run (best valid {_short(rec['valid_metric'])} checkpoint)")
    print(f"table saved: {save_csv(rows, root, rec['dataset'])}", flush=True)


def _short(key: str) -> str:
    name, _, k = key.partition("@")
    return f"{'R' if name == 'recall' else 'N' if name == 'ndcg' else name}@{k}"


def _mean_sd(d: dict) -> str:
    if d.get("mean") is None:
        return "-"
    return f"{d['mean']:.4f}" + ("" if d.get("sd") is None else f" ± {d['sd']:.4f}")


def _versus(vs: dict | None) -> tuple[str, str]:
    """(difference [CI] mark, p-values) cells of one model against the best."""
    if not vs:
        return "", ""
    mark = "*" if vs["significant"] else "ns"
    return (f"{vs['diff']:+.4f} [{vs['ci_low']:+.4f}, {vs['ci_high']:+.4f}] {mark}",
            f"{format_p(vs['p_wilcoxon_holm'])} / {format_p(vs['p_ttest_holm'])}")


def print_table(rec: dict, out=None) -> None:
    res = rec.get("result") or {}
    keys, metric, best = res.get("keys", []), res.get("metric", ""), res.get("best")
    console = Console(file=out or sys.stdout, width=200)
    table = Table(title=f"{rec['dataset']}: {len(rec['seeds'])} seeds ({', '.join(map(str, rec['seeds']))}), "
                        f"mean ± sample SD; each model against {best or '-'} (best mean valid {_short(metric)})",
                  title_justify="left")
    table.add_column("model")
    table.add_column("n", justify="right")
    table.add_column(f"valid {_short(metric)}", justify="right")
    for k in keys:
        table.add_column(f"test {_short(k)}", justify="right")
    for k in keys:
        table.add_column(f"Δ{_short(k)} vs best [95% CI]", justify="right")
        table.add_column(f"p {_short(k)} W / t", justify="right")
    table.add_column("tuned on valid")
    for model, row in res.get("rows", {}).items():
        entry = rec["entries"].get(model) or {}
        tuned = tuning.format_params(entry.get("tuned") or {}) or ("-" if not entry.get("tuning") else "failed")
        cells = [f"[bold]{model}[/]" if model == best else model, str(len(row["seeds"])), _mean_sd(row["valid"])]
        cells += [_mean_sd(row["test"][k]) for k in keys]
        for k in keys:
            cells += ["best", ""] if model == best else list(_versus(row["vs_best"].get(k)))
        table.add_row(*cells, tuned)
    console.print(table)
    console.print("* = significant: Wilcoxon signed-rank and paired t-test over users (each user's metric averaged "
                  "over the seeds), both p < 0.05 after Holm's correction across the models, and the 95% bootstrap "
                  "interval of the mean difference excludes 0; ns = not significant. Tuned values were chosen on "
                  "validation with the first seed; test metrics choose nothing.", highlight=False)
