"""Headless output: a Rich progress display in a terminal, plain lines otherwise, and the
final metrics table."""
from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from diffrec_tui.text import HEADLINE_KEYS, describe, fmt_metrics, headline_keys, split_text


class PlainView:
    """Not a terminal: one line per event, flushed (for logs and pipes)."""

    def __init__(self, keys=HEADLINE_KEYS):
        self.keys = keys

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def show(self, ev: dict) -> None:
        print(describe(ev, self.keys), flush=True)


class RichView:
    """In a terminal: a live panel with epoch progress, loss, latest metrics and ETA."""

    def __init__(self, keys=HEADLINE_KEYS):
        self.keys = keys
        self.console = Console()
        self.live = Live(console=self.console, refresh_per_second=4, transient=False)
        self.state = {"epoch": 0, "epochs": None, "loss": None, "valid": {}, "test": {}, "epoch_s": []}
        self.started = time.monotonic()

    def __enter__(self):
        self.live.__enter__()
        return self

    def __exit__(self, *exc):
        return self.live.__exit__(*exc)

    def show(self, ev: dict) -> None:
        s = self.state
        t = ev["type"]
        if t == "epoch":
            s.update(epoch=ev["epoch"], epochs=ev.get("epochs"), loss=ev["loss"])
            s["epoch_s"].append(ev["seconds"])
        elif t == "eval":
            s.update(valid=ev["valid"], test=ev["test"])
        if t in ("started", "eval", "finished", "stopped", "failed"):
            self.console.print(describe(ev, self.keys))
        self.live.update(self.render())

    def render(self) -> Text:
        s = self.state
        if not s["epochs"]:
            return Text("preparing ...")
        done, total = s["epoch"], s["epochs"]
        width = 30
        filled = int(width * done / total)
        avg = sum(s["epoch_s"][-10:]) / max(1, len(s["epoch_s"][-10:]))
        eta = avg * (total - done)
        bar = "█" * filled + "░" * (width - filled)
        return Text(f"epoch {done}/{total} {bar}  loss {s['loss']:.4f}  "
                    f"valid {fmt_metrics(s['valid'], self.keys) or '-'}  ETA (all epochs) {eta:.0f}s")


def print_summary(run, ev: dict, out=None, keys=HEADLINE_KEYS) -> None:
    """The best valid and test metrics (the headline `keys` first), the split, and where the
    run is recorded."""
    console = Console(file=out or sys.stdout, width=120)
    valid, test = ev.get("valid") or {}, ev.get("test") or {}
    table = Table(title=f"{ev['type']}: best epoch {ev.get('best_epoch')} of {ev.get('epochs_run')}")
    table.add_column("metric")
    table.add_column("valid", justify="right")
    table.add_column("test", justify="right")
    for key in ordered(valid, keys):
        table.add_row(key, f"{valid[key]:.4f}", f"{test.get(key, float('nan')):.4f}")
    console.print(table)
    if keys and keys[0] in valid:
        console.print(f"best model chosen by valid {keys[0]}; test is that model's")
    if ev.get("split"):
        console.print(f"split: {split_text(ev['split'])}", soft_wrap=True)
    console.print(f"train {ev.get('train_seconds', 0):.1f}s, eval {ev.get('eval_seconds', 0):.1f}s")
    console.print(f"run directory: {run.path}")


def ordered(metrics: dict, keys) -> list[str]:
    """The metric keys, headline keys first."""
    return [k for k in keys if k in metrics] + [k for k in metrics if k not in keys]


PEER_KEYS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")


def print_peers(run, out=None) -> None:
    """Test metrics of the latest run of each model on this dataset, best per metric in bold."""
    from engine.records.listing import peers

    rows = peers(run)
    if len(rows) < 2:
        return
    me = next((r for r in rows if r.path == run.path), rows[0])
    keys = [k for k in dict.fromkeys(headline_keys(me.keys) + PEER_KEYS) if k in me.best[1]] or list(PEER_KEYS)
    console = Console(file=out or sys.stdout, width=120)
    table = Table(title="test metrics of each model's latest run on this dataset (best in bold)")
    table.add_column("model")
    table.add_column("run")
    for key in keys:
        table.add_column(key, justify="right")
    best = {k: max(r.best[1].get(k, float("-inf")) for r in rows) for k in keys}
    for r in rows:
        cells = []
        for k in keys:
            v = r.best[1].get(k)
            text = "-" if v is None else f"{v:.4f}"
            cells.append(f"[bold]{text}[/bold]" if v is not None and v == best[k] else text)
        name = str(r.keys.get("model", "?")) + (" (this run)" if r.path == run.path else "")
        table.add_row(name, r.id, *cells)
    console.print(table)
