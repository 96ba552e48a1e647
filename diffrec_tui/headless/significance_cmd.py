"""`diffrec-tui --significance RUN_A RUN_B`: are two runs (or seed groups) really different?

Each argument is a run directory or a seed group (its users' metrics averaged over the
seeds). Per headline test metric: both means, the mean per-user difference A - B with its
95% bootstrap interval, and the Wilcoxon signed-rank and paired t-test p-values (one
comparison per metric: no correction). No torch in this process.
"""
from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from engine.analysis.significance import ALPHA, format_p, paired
from engine.errors import ConfigError, ExitCode, InputError
from engine.records import seeds as seeds_mod
from engine.records.runs import RunDir

from diffrec_tui.text import headline_keys


def headline(paths) -> list[str]:
    """The valid metric's name and NDCG/Recall at its K, from the first run's config."""
    try:
        cfg = RunDir(paths[0]).config()
    except (ConfigError, OSError):
        cfg = None
    return list(headline_keys(cfg))


def main(args) -> int:
    (label_a, runs_a), (label_b, runs_b) = (seeds_mod.members(p) for p in args.significance)
    keys = headline(runs_a)
    rows = []
    for key in keys:
        a, fp = seeds_mod.per_user(runs_a, key)
        b, fp_b = seeds_mod.per_user(runs_b, key)
        if fp != fp_b or len(a) != len(b):
            raise InputError("significance: the two were evaluated on different data (dataset fingerprints "
                             f"{fp} and {fp_b}); compare runs of one split")
        rows.append((key, paired(a, b)))
    console = Console(file=sys.stdout, width=140)
    table = Table(title=f"A = {label_a}\nB = {label_b}\n{rows[0][1].n_users} users, paired", title_justify="left")
    for col in ("metric", "A", "B", "A - B", "95% CI", "p Wilcoxon", "p t-test", ""):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for key, t in rows:
        sig = t.p_wilcoxon < ALPHA and t.p_ttest < ALPHA and (t.ci_low > 0 or t.ci_high < 0)
        table.add_row(key, f"{t.mean_a:.4f}", f"{t.mean_b:.4f}", f"{t.diff:+.4f}",
                      f"[{t.ci_low:+.4f}, {t.ci_high:+.4f}]", format_p(t.p_wilcoxon), format_p(t.p_ttest),
                      "significant" if sig else "not significant")
    console.print(table)
    console.print(f"significant: both p < {ALPHA} and the bootstrap interval excludes 0", highlight=False)
    return ExitCode.OK
