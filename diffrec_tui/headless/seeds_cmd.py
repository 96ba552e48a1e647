"""`diffrec-tui --run CONFIG --seeds 1,2,3`: one run per seed in a group directory, and
mean +- sample SD of every headline metric. The group is a sweep over `seed`, so
`--resume GROUP_DIR` continues it. No torch in this process."""
from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from engine.processes.cores import share
from engine.records import seeds as seeds_mod
from engine.records.runs import runs_root

from diffrec_tui.headless import tune
from diffrec_tui.text import headline_keys


def run_headless(args) -> int:
    """--run CONFIG --seeds LIST: the config checked as --run checks it, then its group."""
    from engine.data.layout import locate

    from diffrec_tui.headless.configs import load_config
    cfg = load_config(args.run, args)
    locate(cfg)  # a wrong data path is an error now, before a group directory exists
    return main(args, cfg)


def main(args, cfg: dict) -> int:
    seeds = seeds_mod.parse(args.seeds)
    sd = seeds_mod.create(runs_root(args.runs_dir, cfg), cfg, seeds)
    workers, threads = share(cfg, None, len(seeds))
    print(f"seed group {sd.path}: {cfg['model']} on {cfg['dataset']}, seeds {', '.join(map(str, seeds))}, "
          f"{workers} worker{'s' * (workers > 1)}", flush=True)
    return finish(sd, workers, threads)


def finish(sd, workers: int, threads: int | None, backend=None) -> int:
    """Run (or resume) the group's seeds, then print its table."""
    code = tune.execute(sd, workers, threads, show_result=False, backend=backend)
    print_group(seeds_mod.load(sd.path))
    return code


def print_group(g: seeds_mod.Group, out=None) -> None:
    """Per seed: valid metric and test headline metrics; then mean +- sample SD."""
    keys = headline_keys(g.base)
    console = Console(file=out or sys.stdout, width=120)
    table = Table(title=f"{g.model}: {len(g.runs)} of {len(g.seeds)} seeds finished ({g.path.name})",
                  title_justify="left")
    for col in ("seed", f"valid {g.metric}", *(f"test {k}" for k in keys), "run"):
        table.add_column(col, justify="left" if col == "run" else "right")
    for s in g.seeds:
        if s in g.runs:
            table.add_row(str(s), _num(g.valid.get(g.metric, {}).get(s)),
                          *(_num(g.test.get(k, {}).get(s)) for k in keys), g.runs[s].name)
        else:
            table.add_row(str(s), "-", *("-" for _ in keys), "not finished")
    table.add_row("mean ± SD", g.spread("valid", g.metric).text(), *(g.spread("test", k).text() for k in keys), "",
                  style="bold")
    console.print(table)
    console.print("SD: sample standard deviation over the seeds (n - 1)", highlight=False)
    if g.missing:
        console.print(f"seeds without a finished run: {', '.join(map(str, g.missing))}; "
                      f"diffrec-tui --resume {g.path} runs them", highlight=False, soft_wrap=True)


def _num(v) -> str:
    return f"{v:.4f}" if isinstance(v, (int, float)) else "-"
