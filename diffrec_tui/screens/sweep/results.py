"""The Sweep screen's result panels: the status lines, the trials table (ranked by the
validation metric), the scatter of the validation metric against one parameter and the
best-so-far curve (against trial number or wall time). Each draws the SweepInfo it is
given; none reads a file."""
from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual.widgets import DataTable, Static

from engine.search import space as tuning
from engine.records.sweeps import SweepInfo, TrialInfo

from diffrec_tui import sweeps
from diffrec_tui.text import STATUS_STYLE, seconds_cell
from diffrec_tui.text import trial_keys as _headline
from diffrec_tui.widgets.charts import LineChart, Series
from diffrec_tui.widgets.scatter import Scatter, ScatterChart

ORDER = ("running", "finished", "pruned", "stopped", "failed", "dead", "skipped", "pending")  # how counts read
CURVES = {"@trial": "trial number (best so far)", "@time": "wall time (best so far)"}  # plot choices after the keys
STATUS_STYLES = {"running": "$accent", "starting": "$accent", "finished": "$success", "stopped": "$warning",
                 "not started": "$error"}
HINTS = {"stopped": ": f4 resumes it", "running": ": ctrl+t stops it"}


def short(metric: str) -> str:
    """'recall@20' -> 'R@20', 'ndcg@20' -> 'N@20' (column titles; the status line spells them)."""
    name, _, k = metric.partition("@")
    return f"{ {'recall': 'R', 'ndcg': 'N', 'precision': 'P', 'mrr': 'MRR'}.get(name, name)}@{k}"


def num(v) -> str:
    return f"{v:.4f}" if isinstance(v, (int, float)) else "-"


def space_keys(info: SweepInfo) -> list[str]:
    return [d["key"] for d in info.meta.get("space", [])]


class SweepStatus(Static):
    """What the shown sweep is doing, its counts, its best trial and why it is not running."""

    def show_empty(self) -> None:
        self.update("[b]no sweep shown[/b]: write a space on the left (or load a hyper.test file) and press "
                    "ctrl+l, or open a sweep from the list")

    def show(self, info: SweepInfo, status: str) -> None:
        counts = info.counts()
        prune = info.meta.get("prune", "none")
        what = f"{info.meta.get('strategy', '?')} of {info.size} trials" + (f", {prune} pruning" if prune != "none" else "")
        lines = [f"[b]{escape(sweeps.label(info.path))}[/b]  [b {STATUS_STYLES.get(status, '')}]{status}[/]"
                 f"{HINTS.get(status, '')}  ·  {escape(what)}, best by valid {info.metric}",
                 ", ".join(f"{counts[s]} {s}" for s in ORDER if s in counts)]
        lines += self._best_lines(info)
        dead = next((t for t in info.trials if t.status == "dead"), None)
        if dead is not None:  # its worker is gone without a final event: say why, as its log does
            lines.append(f"[$error]trial {dead.index} dead: {escape(dead.reason)}[/]")
        if status == "not started":
            lines.append(f"[$error]{escape(sweeps.log_tail(info.path, 1))}[/]")
        self.update("\n".join(lines))

    @staticmethod
    def _best_lines(info: SweepInfo) -> list[str]:
        best = info.best
        if best is None:
            return [f"best by valid {info.metric}: none finished yet"]
        test = ", ".join(f"{k} {num(best.test.get(k))}" for k in _headline(info) if k in best.test)
        return [f"best: trial {best.index}, valid {info.metric} [b]{num(best.value)}[/b] (test {escape(test)})",
                f"  {escape(tuning.format_params(best.params))}  [dim]ctrl+b puts it in the editor[/dim]"]


class TrialTable(DataTable):
    """Every trial of the shown sweep, best validation metric first; the cursor stays on its trial."""

    def show(self, info: SweepInfo) -> None:
        keys, heads = space_keys(info), _headline(info)
        columns = ("#", "status", *keys, "ep", f"valid {short(info.metric)}", *(f"test {short(k)}" for k in heads),
                   "s")
        current = self.current_trial(info)
        if tuple(str(c.label) for c in self.columns.values()) != columns:
            self.clear(columns=True)
            self.add_columns(*columns)
        else:
            self.clear()
        best = info.best
        for t in sweeps.ranked(info):
            style = "bold" if best is not None and t.index == best.index else ""
            cells = [str(t.index), Text(t.status, style=STATUS_STYLE.get(t.status, "")),
                     *(tuning.format_value(t.params.get(k)) for k in keys), str(t.epochs or "-"),
                     num(t.value), *(num(t.test.get(k)) for k in heads), seconds_cell(t)]
            self.add_row(*(Text(c, style=style) if isinstance(c, str) else c for c in cells), key=str(t.index))
        if current is not None:
            self.move_cursor(row=self.get_row_index(str(current.index)), animate=False)

    def current_trial(self, info: SweepInfo | None) -> TrialInfo | None:
        if info is None or not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None
        return next((t for t in info.trials if str(t.index) == key), None)


class TrialScatter(ScatterChart):
    """The validation metric of the finished trials against one parameter of the space."""

    def show_sweep(self, info: SweepInfo | None, key: str | None) -> None:
        if info is None or key is None:
            self.show(Scatter([], [], title="valid metric"))
            return
        param = next((tuning.Param.from_dict(d) for d in info.meta.get("space", []) if d["key"] == key), None)
        xs, ys, idx = sweeps.scatter_points(info, key)
        categories = None
        if param is not None and param.kind == "choice":
            values = list(param.values)
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            categories = sorted(values) if numeric else values
        best = info.best
        mark = idx.index(best.index) if best is not None and best.index in idx else None
        self.show(Scatter(xs, ys, title=f"valid {info.metric} against {key} ({len(xs)} finished trials)",
                          xlabel=key, categories=categories, log=param is not None and param.kind == "loguniform",
                          highlight=mark, highlight_label=f"best (trial {best.index})" if mark is not None else ""))


class BestCurve(LineChart):
    """The best validation metric so far after each ended trial (sweeps.best_so_far)."""

    def show_sweep(self, info: SweepInfo | None, by: str) -> None:
        if info is None:
            self.show([])
            return
        xs, ys = sweeps.best_so_far(info, "time" if by == "@time" else "trial")
        self.xlabel = "minutes since the sweep was created" if by == "@time" else "trial"
        self.integer_x = by != "@time"
        self.show([Series(f"best valid {info.metric}", xs, ys, color="orange")],
                  title=f"best valid {info.metric} so far ({len(xs)} ended trials)")
