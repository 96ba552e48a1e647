"""Comparison view: the run groups of a `--compare` (engine.records.comparison), model by model.

Left: the comparison directories under the runs directory, newest first. Right: mean +-
sample SD per model with its difference to the best model and the significance mark, a
bar chart of the means with +-SD error bars, and, for two models selected with space,
the histogram of the per-user differences (A - B) the paired tests were run on.
Opened from the command palette ("Compare run groups"); escape goes back.
"""
from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, OptionList, Static
from textual.widgets.option_list import Option

from engine.records import comparison as comparison

from engine.records import seeds as seeds_mod
from engine.errors import InputError
from engine.analysis.significance import format_p

from diffrec_tui.widgets.keybar import KeyBar

BAR_WIDTH = 40  # characters of the longest bar
HIST_BINS = 13  # odd: the middle bin holds the users with no difference
HIST_WIDTH = 40


def short(key: str) -> str:
    name, _, k = key.partition("@")
    return f"{'R' if name == 'recall' else 'N' if name == 'ndcg' else name}@{k}"


def mean_sd(d: dict | None) -> str:
    if not d or d.get("mean") is None:
        return "-"
    return f"{d['mean']:.4f}" + ("" if d.get("sd") is None else f" ± {d['sd']:.4f}")


def bars(rows: dict, key: str, best: str | None, width: int = BAR_WIDTH) -> str:
    """One line per model: a bar to its mean and an error bar from mean - SD to mean + SD."""
    vals = {m: r["test"].get(key) or {} for m, r in rows.items()}
    top = max(((v.get("mean") or 0) + (v.get("sd") or 0) for v in vals.values()), default=0) or 1.0
    name_w = max((len(m) for m in rows), default=5)
    lines = [f"[b]test {short(key)}[/b]: mean, error bars ± 1 SD over the seeds"]
    for m, v in vals.items():
        if v.get("mean") is None:
            lines.append(f"{escape(m):<{name_w}} -")
            continue
        mean, sd = v["mean"], v.get("sd") or 0.0
        cells = [" "] * (width + 1)
        end = round(mean / top * width)
        for i in range(end):
            cells[i] = "█"
        lo, hi = round(max(0.0, mean - sd) / top * width), round((mean + sd) / top * width)
        if sd > 0:
            for i in range(lo, hi + 1):
                cells[i] = "─" if cells[i] == " " else "━"
            cells[lo], cells[hi] = "├", "┤"
        bar = "".join(cells)
        style = "b" if m == best else "dim" if best else ""
        text = f"{escape(m):<{name_w}} {bar} {mean_sd(v)}"
        lines.append(f"[{style}]{text}[/{style}]" if style else text)
    return "\n".join(lines)


def histogram(diff, label: str, bins: int = HIST_BINS, width: int = HIST_WIDTH) -> str:
    """Per-user differences as a horizontal histogram, symmetric around 0."""
    import numpy as np

    d = np.asarray(diff, dtype=np.float64)
    span = float(np.abs(d).max()) or 1.0
    edges = np.linspace(-span, span, bins + 1)
    counts, _ = np.histogram(d, bins=edges)
    peak = max(1, int(counts.max()))
    lines = [f"[b]{escape(label)}[/b]: per-user difference, {len(d)} users, mean {d.mean():+.4f}, "
             f"{int((d > 0).sum())} better, {int((d < 0).sum())} worse, {int((d == 0).sum())} equal"]
    for i, c in enumerate(counts):
        lo, hi = edges[i], edges[i + 1]
        lines.append(f"{lo:+.3f}..{hi:+.3f} {'█' * round(c / peak * width):<{width}} {c}")
    return "\n".join(lines)


class ComparisonScreen(Screen):
    DEFAULT_CSS = """
    #cmp-body { height: 1fr; }
    #cmp-list { width: 34; border-right: vkey $panel; }
    #cmp-main { width: 1fr; padding: 0 1; }
    #cmp-title { height: auto; }
    #cmp-table { height: auto; max-height: 12; }
    #cmp-bars { height: auto; margin-top: 1; }
    #cmp-hist { height: auto; margin-top: 1; }
    """
    BINDINGS = [
        Binding("space", "toggle_select", "Select model", id="cmp.select"),
        Binding("m", "next_metric", "Metric", id="cmp.metric"),
        Binding("f5", "reload", "Reload", id="cmp.reload"),
        Binding("escape", "close", "Back", id="cmp.close"),
    ]

    def __init__(self, root: str | Path | None = None):
        super().__init__()
        self.root = Path(root) if root else None
        self.paths: list[Path] = []
        self.current: Path | None = None
        self.record: dict | None = None
        self.key_index = 0
        self.selected: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="cmp-body"):
            yield OptionList(id="cmp-list")
            with Vertical(id="cmp-main"):
                yield Static(id="cmp-title")
                yield DataTable(id="cmp-table", cursor_type="row", zebra_stripes=True)
                yield Static(id="cmp-bars")
                yield Static(id="cmp-hist")
        yield KeyBar()

    def on_mount(self) -> None:
        self.action_reload()
        self.query_one("#cmp-table", DataTable).focus()  # tab reaches the list of comparisons

    # ------------------------------------------------------------ data

    def action_reload(self) -> None:
        root = self.root or self.app.runs_dir
        self.paths = comparison.list_comparisons(root)
        opts = self.query_one("#cmp-list", OptionList)
        opts.clear_options()
        opts.add_options([Option(p.name.removeprefix("compare-"), id=str(p)) for p in self.paths])
        if not self.paths:
            self.query_one("#cmp-title", Static).update(
                f"No comparisons in {escape(str(root))} yet: run diffrec-tui --compare CONFIG --seeds 1,2,3")
            return
        index = self.paths.index(self.current) if self.current in self.paths else 0
        opts.highlighted = index
        self.show(self.paths[index])

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        path = Path(event.option.id)
        if path != self.current:
            self.show(path)

    def show(self, path: Path) -> None:
        self.current, self.selected = path, []
        try:
            self.record = comparison.read(path)
        except InputError as exc:
            self.record = None
            self.query_one("#cmp-title", Static).update(f"[red]{escape(str(exc))}[/red]")
            return
        self.render_record()

    @property
    def keys(self) -> list[str]:
        return (self.record or {}).get("result", {}).get("keys") or (self.record or {}).get("keys") or []

    @property
    def key(self) -> str | None:
        return self.keys[self.key_index % len(self.keys)] if self.keys else None

    # ------------------------------------------------------------ drawing

    def render_record(self) -> None:
        rec = self.record or {}
        res = rec.get("result") or {}
        rows, best, key = res.get("rows", {}), res.get("best"), self.key
        seeds = ", ".join(map(str, rec.get("seeds", [])))
        title = (f"[b]{escape(str(rec.get('dataset')))}[/b]: {len(rows)} models, seeds {seeds} "
                 f"({rec.get('status')}); best by mean valid {short(res.get('metric', '-'))}: "
                 f"[b]{escape(str(best))}[/b]")
        if not res:
            title += "\nno analysis yet (the comparison is still running or was stopped early)"
        self.query_one("#cmp-title", Static).update(title)
        self.fill_table(rows, best, key)
        self.query_one("#cmp-bars", Static).update(bars(rows, key, best) if key and rows else "")
        self.draw_histogram()

    def fill_table(self, rows: dict, best: str | None, key: str | None) -> None:
        table = self.query_one("#cmp-table", DataTable)
        table.clear(columns=True)
        k = short(key) if key else "-"
        for col in ("", "model", "n", f"test {k}", f"Δ{k} vs best [95% CI]", "p W / t (Holm)", "", "tuned"):
            table.add_column(col)
        for model, row in rows.items():
            vs = row.get("vs_best", {}).get(key) if key else None
            tuned = ((self.record or {}).get("entries", {}).get(model) or {}).get("tuned") or {}
            diff = "best" if model == best else (
                f"{vs['diff']:+.4f} [{vs['ci_low']:+.4f}, {vs['ci_high']:+.4f}]" if vs else "-")
            p = f"{format_p(vs['p_wilcoxon_holm'])} / {format_p(vs['p_ttest_holm'])}" if vs else ""
            sig = "" if not vs else ("*" if vs["significant"] else "ns")
            table.add_row("●" if model in self.selected else " ", model, str(len(row.get("seeds", []))),
                          mean_sd(row["test"].get(key)), diff, p, sig,
                          " ".join(f"{a}={b:g}" if isinstance(b, float) else f"{a}={b}" for a, b in tuned.items()),
                          key=model)

    def draw_histogram(self) -> None:
        hist = self.query_one("#cmp-hist", Static)
        if len(self.selected) != 2 or not self.key or self.current is None:
            hist.update("[dim]select two models with space: the histogram of their per-user differences[/dim]")
            return
        a, b = self.selected
        try:
            found = comparison.groups(self.current, self.record)
            va = seeds_mod.per_user([found[a].runs[s] for s in sorted(found[a].runs)], self.key)[0]
            vb = seeds_mod.per_user([found[b].runs[s] for s in sorted(found[b].runs)], self.key)[0]
        except (InputError, KeyError) as exc:
            hist.update(f"[red]{escape(str(exc))}[/red]")
            return
        hist.update(histogram(va - vb, f"{a} - {b}, test {short(self.key)}"))

    # ------------------------------------------------------------ actions

    def action_toggle_select(self) -> None:
        table = self.query_one("#cmp-table", DataTable)
        if not table.row_count:
            return
        model = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if model in self.selected:
            self.selected.remove(model)
        else:
            self.selected = (self.selected + [model])[-2:]
        row = table.cursor_row
        self.render_record()
        table.move_cursor(row=row, animate=False)

    def action_next_metric(self) -> None:
        self.key_index += 1
        self.render_record()

    def action_close(self) -> None:
        self.app.pop_screen()
