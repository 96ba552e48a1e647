"""Headless inspection: `--inspect RUN_DIR --user ID [--topk K] [--json]` prints one user's
top-K, and `--export-recs RUN_DIR OUT.csv [--topk K]` writes every user's top-K. Both rank
as the test metric does (training and validation items excluded) and speak the dataset's
own ids (its tokens; dense ids only for npy and synthetic data), with titles when known.

torch is imported only inside the commands (through engine.inspection.inspector), never at start-up.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from engine.errors import ExitCode, InputError

DEFAULT_TOPK = 20


def _topk(args) -> int:
    k = DEFAULT_TOPK if getattr(args, "topk", None) is None else args.topk
    if k < 1:
        raise InputError(f"--topk: {k} must be at least 1, e.g. --topk 20")
    return k


def _inspector(run_dir: str):
    from engine.inspection.inspector import Inspector
    return Inspector(run_dir)


def main(args) -> int:
    if args.user is None:
        raise InputError("--inspect: which user? add --user ID (the dataset's own id), e.g. --inspect RUN_DIR --user 1")
    k = _topk(args)
    insp = _inspector(args.inspect)
    try:
        user = insp.find_user(args.user)
    except InputError as exc:
        raise InputError(f"--{exc}") from None
    view = insp.user(user, k)
    try:
        if args.json:
            print(json.dumps(as_json(insp, view), indent=2))
        else:
            print_view(insp, view)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return ExitCode.OK


def as_json(insp, view) -> dict:
    return {
        "run": str(insp.path), "model": insp.model, "user": insp.user_id(view.user), "topk": view.topk,
        "ranking": "test: training and validation items excluded",
        "items": [insp.item_id(r.item) for r in view.top],
        "names": [r.name for r in view.top],
        "scores": [r.score for r in view.top],
        "hits": [r.hit or None for r in view.top],
        "metrics": view.metrics,
        "history": [insp.item_id(h.item) for h in view.history],
        "valid_items": [insp.item_id(i) for i in view.valid_items.tolist()],
        "test_items": [insp.item_id(i) for i in view.test_items.tolist()],
    }


def print_view(insp, view) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"run {insp.path}")
    table = Table(title=f"user {insp.user_id(view.user)}: top-{view.topk} ({insp.model})")
    table.add_column("rank", justify="right")
    table.add_column("item", justify="right")
    if insp.has_titles:
        table.add_column("title", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("hit")
    for r in view.top:
        cells = [str(r.rank), str(insp.item_id(r.item))] + ([r.name] if insp.has_titles else [])
        table.add_row(*cells, f"{r.score:.4f}", r.hit)
    console.print(table)
    k = view.topk
    console.print(f"history {len(view.history)} items, {len(view.valid_items)} valid, {len(view.test_items)} test "
                  f"held out (ranked as the test metric: history and valid items excluded)")
    for split in ("test", "valid"):
        m = view.metrics[split]
        console.print(f"{split}: " + "  ".join(f"{key} {m[key]:.4f}" for key in (f"recall@{k}", f"ndcg@{k}")
                                               if key in m))


def export_main(args) -> int:
    from engine.inspection.export import check_export_target
    run_dir, out = args.export_recs
    k = _topk(args)
    check_export_target(Path(out).expanduser().resolve())  # before minutes of scoring
    insp = _inspector(run_dir)
    print(f"export-recs: scoring {insp.n_users} users x {insp.n_items} items with {insp.model} "
          f"({insp.path.name})...", file=sys.stderr, flush=True)
    progress = Progress(insp.n_users)
    t0 = time.perf_counter()
    n = insp.export_recs(out, k, progress=progress)
    progress.done()
    print(f"export-recs: wrote {n} rows (top-{k} of {insp.n_users} users, training and validation items "
          f"excluded) to {out} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return ExitCode.OK


class Progress:
    """Users scored so far, on stderr: one updating line in a terminal, a line per batch
    otherwise; silent when everything fits in one batch."""

    def __init__(self, total: int):
        self.total = total
        self.tty = sys.stderr.isatty()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if done >= total and not self.shown:
            return
        self.shown = True
        end = "\r" if self.tty else "\n"
        print(f"export-recs: {done}/{total} users ({100 * done // max(total, 1)}%)", end=end,
              file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.shown and self.tty:
            print(file=sys.stderr)
