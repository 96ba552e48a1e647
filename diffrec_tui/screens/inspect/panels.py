"""The Inspect screen's view panels: the score chart with its step line, the history with
the what-if editor, the top-K and the user's metrics. Each draws the Shown snapshot put in
its reactive `shown` (state.py); none computes anything but text and column widths."""
from __future__ import annotations

import numpy as np
from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import var
from textual.widgets import DataTable, Input, OptionList, Static

from diffrec_tui.widgets.score_chart import ScoreChart
from diffrec_tui.screens.inspect.state import Shown

NAME_WIDTH = 24  # item-name column before the table has a size; then what fits, at least:
MIN_NAME_WIDTH = 10
LEGEND = ("[cyan]⣀ score[/]  [blue]● history[/]  [green]◆ valid[/]  [red]▲ test[/]  "
          "[dim]│ top-K cutoff[/]")
SUMMARY_ROWS = 4  # entering / leaving items listed in the what-if summary


def item_width(insp) -> int:
    if insp is None:
        return 4
    widest = max(map(len, insp.tokens.items)) if insp.tokens else len(str(insp.n_items - 1))
    return max(4, min(widest, 16))


def name_width(table: DataTable, others: list[int], chrome: int) -> int:
    """What is left of the table's width for the item-name column (names are cut);
    `chrome`: the columns taken by the table's border and vertical scrollbar."""
    inner = table.size.width - chrome
    pad = 2 * table.cell_padding * (len(others) + 1)
    return max(MIN_NAME_WIDTH, inner - sum(others) - pad) if table.size.width else NAME_WIDTH


def cursor_key(table: DataTable) -> str | None:
    if not table.row_count:
        return None
    return table.coordinate_to_cell_key((min(table.cursor_row, table.row_count - 1), 0)).row_key.value


class ScorePanel(Vertical):
    """The step line, the chart of the vector at the shown step, the legend."""
    shown: var[Shown | None] = var(None)

    def compose(self) -> ComposeResult:
        yield Static(id="insp-step")
        yield ScoreChart(empty="pick a run and a user", id="insp-chart")
        yield Static(LEGEND, id="insp-legend")

    @property
    def chart(self) -> ScoreChart:
        return self.query_one(ScoreChart)

    def watch_shown(self, s: Shown | None) -> None:
        step_box = self.query_one("#insp-step", Static)
        v, vec = (s.current, s.vector()) if s is not None else (None, None)
        if v is None or vec is None:
            self.chart.show(None)
            step_box.update("")
            return
        who = f"user {s.insp.user_id(v.user)}" + (" (what-if)" if s.whatif is not None else "")
        step_box.update(f"[b]{escape(who)}[/b]  ◀ [b]{escape(self._label(v, s.step))}[/b] ▶  "
                        "[dim], . or \\[ ] to step, f: final[/]")
        marked = {"history": np.array([h.item for h in v.history], dtype=np.int64),
                  "valid": v.valid_items, "test": v.test_items}
        log = s.log(vec)
        # The top-K line marks rank K of the shown list (history and valid items excluded,
        # as the test metric ranks) among all the items the chart sorts.
        cutoff = v.cutoff(vec) if not v.latent else v.topk
        self.chart.show(vec, marked, cutoff=cutoff, title=f"scores of user {s.insp.user_id(v.user)}, step "
                        f"{s.step}/{v.steps}" + ("  (log x: g)" if log else ""), log_x=log)

    @staticmethod
    def _label(v, step: int) -> str:
        total = v.steps
        if v.latent:
            return "final scores (this model's reverse steps run in a latent space: no per-item trajectory)"
        if step == 0:
            return f"step 0/{total}: the input (the user's training row)"
        if step == total:
            return f"step {total}/{total}: final scores (ranked)"
        return f"step {step}/{total}: after reverse step {step}"


class HistoryPanel(Vertical):
    """The what-if item search and the user's history, newest first, edits marked."""
    shown: var[Shown | None] = var(None)

    def __init__(self, blink: bool, **kwargs) -> None:
        super().__init__(**kwargs)
        self.blink = blink

    def compose(self) -> ComposeResult:
        add = Input(placeholder="what-if: add an item (name or id)", id="insp-add", compact=True)
        add.cursor_blink = self.blink
        yield add
        yield Static(id="insp-add-error")  # a refused add, right under the field (issue 17)
        yield OptionList(id="insp-found")
        yield DataTable(id="insp-history", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.found.display = False
        self.add_error(None)

    def add_error(self, text: str | None) -> None:
        box = self.query_one("#insp-add-error", Static)
        box.update(f"[$error]✗ {escape(text)}[/]" if text else "")
        box.display = bool(text)

    @property
    def table(self) -> DataTable:
        return self.query_one(DataTable)

    @property
    def found(self) -> OptionList:
        """The items matching the add field's text (none of the history)."""
        return self.query_one(OptionList)

    @property
    def add_field(self) -> Input:
        return self.query_one(Input)

    def watch_shown(self, s: Shown | None) -> None:
        table = self.table
        keep = cursor_key(table)
        table.clear(columns=True)
        if s is None or not s.ready:
            self.border_title = "history"
            return
        view, insp = s.view, s.insp
        names = insp.has_titles
        # Fixed widths: auto widths are measured on the table's next idle, which may come late.
        widths = [1, max(3, len(str(len(view.history)))), item_width(insp), 8]
        table.add_column("", key="mark", width=widths[0])
        table.add_column("#", key="pos", width=widths[1])
        table.add_column("item", key="item", width=widths[2])
        if names:
            table.add_column("name", key="name", width=name_width(table, widths, chrome=2))
        table.add_column("T-weight" if insp.cfg.get("time-aware") else "weight", key="weight", width=widths[3])
        rows = self._rows(s)
        for item, mark, pos, w in rows:
            style = "strike dim" if mark == "−" else ("bold green" if mark == "+" else "")
            cells = [mark, pos, str(insp.item_id(item))] + ([insp.name(item)] if names else []) + \
                    ["-" if w is None or mark == "−" else f"{w:.3f}"]
            table.add_row(*[Text(c, style=style) for c in cells], key=str(item))
        if keep is not None and keep in {str(r[0]) for r in rows}:  # the cursor stays on its item
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        edits = f" · what-if −{len(s.removed)} +{len(s.added)}" if s.removed or s.added else ""
        self.border_title = f"history: {len(view.history)} items" + (edits or ", newest first")

    @staticmethod
    def _rows(s: Shown) -> list[tuple]:
        """(item, mark, position, weight in the model's input) newest first, added items on top."""
        view = s.view
        after = {h.item: h.weight for h in s.whatif.after.history} if s.whatif is not None else None
        weights = after if after is not None else {h.item: h.weight for h in view.history}
        n = len(view.history)
        rows = [(i, "+", "new") for i in reversed(s.added)]
        rows += [(h.item, "−" if h.item in s.removed else "", str(n - h.position)) for h in reversed(view.history)]
        return [(item, mark, pos, weights.get(item)) for item, mark, pos in rows]


class TopKTable(DataTable):
    """The shown view's top-K with hits against the held-out items and what-if moves."""
    shown: var[Shown | None] = var(None)

    def watch_shown(self, s: Shown | None) -> None:
        self.clear(columns=True)
        v = s.stepped() if s is not None else None
        if v is None or s.insp is None:
            self.border_title = "top-K"
            return
        insp = s.insp
        names = insp.has_titles
        cols = [("rank", "rank", max(4, len(str(v.topk)))), ("item", "item", item_width(insp)),
                ("score", "score", 8), ("hit", "hit", 5), ("what-if", "delta", 8)]
        if names:
            cols.insert(2, ("name", "name", name_width(self, [w for *_, w in cols], chrome=4)))
        for title, key, width in cols:
            self.add_column(title, key=key, width=width)
        delta = self._deltas(s.whatif)
        for r in v.top:
            hit = Text(r.hit, style="bold red" if r.hit == "test" else "green") if r.hit else Text("")
            cells = [str(r.rank), str(insp.item_id(r.item))] + ([r.name] if names else []) + [f"{r.score:.4f}"]
            self.add_row(*cells, hit, delta.get(r.item, Text("")), key=str(r.item))
        at = f", at step {s.step}/{v.steps}" if not v.latent and s.step < v.steps else ""
        self.border_title = f"top-{v.topk} of user {insp.user_id(v.user)}" + \
            (", what-if" if s.whatif is not None else " (history, valid excluded)") + at

    @staticmethod
    def _deltas(w) -> dict[int, Text]:
        if w is None:
            return {}
        out = {}
        for c in w.entering:
            out[c.item] = Text(f"new #{c.before}" if c.before else "new", style="bold green")
        for c in w.moved:
            up = (c.before or 0) - (c.after or 0)
            out[c.item] = Text(f"▲{up}" if up > 0 else f"▼{-up}", style="green" if up > 0 else "yellow")
        return out


class MetricsPanel(Static):
    """The user's counts, per-user Recall/NDCG@K (before and after the edits), the what-if summary."""
    shown: var[Shown | None] = var(None)

    def watch_shown(self, s: Shown | None) -> None:
        if s is None or s.view is None:
            self.update("[dim]pick a user: type an id (u) or choose one from the list (l cycles best, "
                        "worst, random)[/]")
            return
        view, w = s.stepped(s.view), s.whatif
        k = view.topk
        lines = [f"[b]user {escape(str(s.insp.user_id(view.user)))}[/b]: {len(view.history)} history, "
                 f"{len(view.valid_items)} valid, {len(view.test_items)} test",
                 f"{'':6}{'R@' + str(k):>7}{'N@' + str(k):>7}" + ("   what-if" if w is not None else "")
                 + (f"  (step {s.step}/{view.steps})" if not view.latent and s.step < view.steps else "")]
        for split in ("test", "valid"):
            m = view.metrics[split]
            line = f"{split:<6}{m.get(f'recall@{k}', 0.0):>7.4f}{m.get(f'ndcg@{k}', 0.0):>7.4f}"
            if w is not None:
                a = s.stepped(w.after).metrics[split]
                line += f" →{a.get(f'recall@{k}', 0.0):>7.4f}{a.get(f'ndcg@{k}', 0.0):>7.4f}"
            lines.append(line)
        if w is None and not (s.removed or s.added):
            lines += ["", "[dim]what-if: x removes/restores the highlighted history item, a adds an item, "
                          "z resets[/]"]
        elif w is None:
            lines += ["", "[i]re-denoising...[/i]"]
        else:
            lines += self._summary(w, s.insp.name)
        self.update("\n".join(lines))

    @staticmethod
    def _summary(w, name) -> list[str]:
        lines = ["", f"[b]what-if[/b] −{len(w.removed)} +{len(w.added)}: "
                     f"{len(w.entering)} in, {len(w.leaving)} out, {len(w.moved)} moved"]
        for c in w.entering[:SUMMARY_ROWS]:
            lines.append(f"[green]+ {escape(name(c.item))}[/] " + (f"#{c.before}" if c.before else "history")
                         + f" → #{c.after}")
        for c in w.leaving[:SUMMARY_ROWS]:
            lines.append(f"[yellow]− {escape(name(c.item))}[/] #{c.before} → "
                         + (f"#{c.after}" if c.after else "history"))
        more = len(w.entering) - SUMMARY_ROWS + len(w.leaving) - SUMMARY_ROWS
        if more > 0:
            lines.append(f"[dim]... {more} more[/]")
        return lines
