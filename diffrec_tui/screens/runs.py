"""Runs screen: every run under the runs directory, sortable and filterable; select runs
to overlay their validation curves, two to diff their configs; open, attach, edit, delete."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static

from engine import config as config_mod
from engine.runs import RunInfo, load_run

from ..live import valid_key
from ..overlay import next_key, overlay
from ..widgets.charts import LineChart
from ..widgets.keybar import KeyBar
from ..widgets.nav import NavBar
from .dialogs import Confirm

REFRESH_SECONDS = 3.0  # re-read the runs directory this often while a listed run is active
DIFF_ROWS = 14


def _num(v, fmt: str = ".4f") -> str:
    return format(v, fmt) if isinstance(v, (int, float)) else "-"


def _short(v) -> str:
    if isinstance(v, list):
        return "[" + ",".join(str(x) for x in v) + "]"
    return "-" if v is None else str(v)


@dataclass
class Row:
    """One run as the table shows it; `sort` holds the values the columns sort by."""
    info: RunInfo
    cells: tuple
    sort: dict

    @property
    def id(self) -> str:
        """Unique in the table: a sweep's trial is named with its sweep directory."""
        return f"{self.info.path.parent.name}/{self.info.id}" if in_sweep(self.info.path) else self.info.id


def in_sweep(path: Path) -> bool:
    return path.parent.name.startswith("sweep-") and (path.parent / "sweep.yaml").is_file()


# (title, sort key) per column; the first column is the selection mark.
COLUMNS = [("", None), ("run", "run"), ("status", "status"), ("model", "model"), ("dataset", "dataset"),
           ("started", "started"), ("ep", "epochs"), ("best valid", "best"), ("test R@20", "recall"),
           ("test N@20", "ndcg"), ("steps", "steps"), ("noise", "noise"), ("lr", "lr"), ("dims", "dims")]
SORT_KEYS = [key for _, key in COLUMNS if key]


def make_row(info: RunInfo) -> Row:
    cfg = info.config or {}
    valid, test = info.best
    vkey = valid_key(cfg)
    started = datetime.fromtimestamp(info.started_at).strftime("%m-%d %H:%M") if info.started_at else "-"
    best = valid.get(vkey)
    # a sweep's trial carries its sweep's name; a model without diffusion (EASE) no epochs or diffusion keys
    run = f"↳ {info.path.parent.name.split('-', 3)[-1]} {short_id(info.id)}" if in_sweep(info.path) else short_id(info.id)
    diff = cfg.get("model") in config_mod.DIFFUSION_MODELS
    cells = (run, info.status, _short(cfg.get("model")), _short(cfg.get("dataset")), started,
             str(info.epochs) if info.epochs or diff else "-", f"{vkey} {_num(best)}" if best is not None else "-",
             _num(test.get("recall@20")), _num(test.get("ndcg@20")), _short(cfg.get("steps") if diff else None),
             _short(cfg.get("noise_scale") if diff else None),
             _short(cfg.get("learning_rate")), _short(cfg.get("dims_dnn")))
    sort = {"run": info.id, "status": info.status, "model": str(cfg.get("model")), "dataset": str(cfg.get("dataset")),
            "started": info.started_at or 0.0, "epochs": info.epochs, "best": best if best is not None else -1.0,
            "recall": test.get("recall@20", -1.0), "ndcg": test.get("ndcg@20", -1.0),
            "steps": cfg.get("steps") or 0, "noise": cfg.get("noise_scale") or 0.0,
            "lr": cfg.get("learning_rate") or 0.0, "dims": str(cfg.get("dims_dnn"))}
    return Row(info, cells, sort)


def _stamp(path: Path) -> tuple:
    """Changes when a run's files change (events appended, summary written)."""
    out = []
    for name in ("events.jsonl", "summary.json", "config.yaml"):
        try:
            st = (path / name).stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def run_dirs(root: Path) -> list[Path]:
    """Run directories under `root`, and the trials of its sweeps (sweep-*/<run>)."""
    out = []
    for p in root.iterdir():
        if p.is_dir() and (p / "config.yaml").is_file():
            out.append(p)
        elif p.name.startswith("sweep-") and (p / "sweep.yaml").is_file():
            out.extend(q for q in p.iterdir() if q.is_dir() and (q / "config.yaml").is_file())
    return out


def scan(root: Path, cache: dict) -> list[Row]:
    """The runs under `root`, newest first (as engine.runs.list_runs), re-reading only the
    runs whose files changed since the last scan. A run whose worker may still be
    running is re-read every time: its status depends on the process, not on files."""
    root = Path(root)
    if not root.is_dir():
        return []
    dirs = sorted(run_dirs(root), key=lambda p: p.name, reverse=True)
    rows = []
    for path in dirs:
        stamp = _stamp(path)
        hit = cache.get(path)
        if hit is None or hit[0] != stamp or hit[1].info.status == "running":
            hit = (stamp, make_row(load_run(path)))
            cache[path] = hit
        rows.append(hit[1])
    for gone in set(cache) - set(dirs):
        del cache[gone]
    return rows


def matches(row: Row, query: str) -> bool:
    """Every word of the filter must appear in one of the row's cells (case-insensitive)."""
    text = " ".join((row.id, *row.cells)).lower()
    return all(word in text for word in query.lower().split())


class RunsScreen(Screen):
    BINDINGS = [
        Binding("space", "toggle_select", "Select", id="runs.select"),
        Binding("enter", "open_run", "Open", id="runs.open", show=False),
        Binding("a", "attach", "Attach/open", id="runs.attach"),
        Binding("e", "edit_config", "Edit config", id="runs.edit"),
        Binding("u", "resume_run", "Resume", id="runs.resume", show=False),
        Binding("d", "delete", "Delete", id="runs.delete"),
        Binding("o", "sort", "Sort", id="runs.sort"),
        Binding("r", "reverse", "Reverse", id="runs.reverse"),
        Binding("m", "overlay_metric", "Metric", id="runs.overlay_metric"),
        Binding("slash", "filter", "Filter", id="runs.filter"),
        Binding("c", "clear_selection", "Clear sel.", id="runs.clear"),
        Binding("f5", "reload", "Reload", id="runs.reload"),
        Binding("escape", "leave_filter", "Leave filter", show=False, id="runs.leave_filter"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Row] = []
        self.selected: list[str] = []  # run ids, in the order they were selected
        self.sort_key = "started"
        self.overlay_key: str | None = None  # the overlay's metric@K (m), else the valid_metric
        self.descending = True
        self.query_text = ""
        self._shown = 0  # rows that pass the filter
        self._cache: dict[Path, tuple[tuple, Row]] = {}

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield NavBar("runs")
        inp = Input(placeholder="/ filter runs: words to match (model, dataset, status, id...)", id="runs-filter",
                    compact=True)
        inp.cursor_blink = not self.app.is_headless
        yield inp
        yield Static(id="runs-summary")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="runs-compare"):
            yield LineChart("valid metric per run", "epoch", empty="select runs with space to overlay them",
                            integer_x=True, id="overlay-chart")
            yield Static(id="runs-diff")
        yield KeyBar()

    @property
    def table(self) -> DataTable:
        return self.query_one("#runs-table", DataTable)

    def on_mount(self) -> None:
        for title, key in COLUMNS:
            self.table.add_column(title, key=key or "mark")
        self.set_interval(REFRESH_SECONDS, self._auto_reload)
        self.table.focus()

    def on_screen_resume(self) -> None:
        # Paint the screen as it was first, then re-read the runs directory.
        self.call_after_refresh(self._resumed)

    def _resumed(self) -> None:
        self.reload()
        self.show_highlighted()

    def show_highlighted(self) -> None:
        """Put the cursor on app.highlighted_run when another screen chose it (a sweep's trial)."""
        target = self.app.highlighted_run
        if target is None:
            return
        target = Path(target).resolve()
        row = next((r for r in self.visible() if r.info.path.resolve() == target), None)
        if row is not None and row is not self.current_row():
            self.table.move_cursor(row=self.table.get_row_index(row.id), animate=False)

    def _auto_reload(self) -> None:
        if self.app.screen is self and any(r.info.status == "running" for r in self.rows):
            self.reload()

    # ------------------------------------------------------------ data

    def reload(self) -> None:
        rows = scan(self.app.runs_dir, self._cache)
        if [id(r) for r in rows] == [id(r) for r in self.rows]:
            return  # nothing changed on disk: keep the table as it is
        self.rows = rows
        ids = {r.id for r in self.rows}
        self.selected = [i for i in self.selected if i in ids]
        self.render_table()
        self.render_compare()

    def visible(self) -> list[Row]:
        rows = [r for r in self.rows if matches(r, self.query_text)]
        key = self.sort_key
        return sorted(rows, key=lambda r: (isinstance(r.sort[key], str), r.sort[key]), reverse=self.descending)

    def render_table(self) -> None:
        table = self.table
        current = self.current_row()
        table.clear()
        rows = self.visible()
        for r in rows:
            mark = Text("●", style="bold") if r.id in self.selected else Text(" ")
            table.add_row(mark, *r.cells, key=r.id)
        if current and any(r.id == current.id for r in rows):
            table.move_cursor(row=table.get_row_index(current.id), animate=False)
        self._shown = len(rows)
        self.render_summary()

    def render_summary(self) -> None:
        """The line above the table; a dead or failed run under the cursor adds why it ended."""
        arrow = "↓" if self.descending else "↑"
        text = (f"{self._shown} of {len(self.rows)} runs in "
                f"[b]{escape(self.app.runs_dir.name or str(self.app.runs_dir))}[/b]"
                f"  ·  sorted by {self.sort_key} {arrow}  ·  {len(self.selected)} selected")
        row = self.current_row()
        if row is not None and row.info.status in ("dead", "failed"):
            text += f"  ·  [$error]{row.info.status}: {escape(row.info.reason)}[/]"
        self.query_one("#runs-summary", Static).update(text)

    def current_row(self) -> Row | None:
        table = self.table
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None
        return next((r for r in self.rows if r.id == key), None)

    def render_compare(self) -> None:
        chosen = [r for i in self.selected for r in self.rows if r.id == i]
        key, series = overlay([r.info for r in chosen], self.overlay_key, short_id)
        self.query_one("#overlay-chart", LineChart).show(series, title=f"valid {key} per run")
        self.query_one("#runs-diff", Static).update(self.diff_text(chosen))

    def diff_text(self, chosen: list[Row]) -> str:
        if len(chosen) != 2:
            return "[dim]select exactly two runs (space) to see how their configs differ[/]"
        a, b = chosen
        d = config_mod.diff(a.info.config, b.info.config)
        lines = [f"[b]config diff[/b]  A = {escape(short_id(a.info.id))}   B = {escape(short_id(b.info.id))}"]
        if not d:
            lines.append("identical configs")
        for k, (va, vb) in list(d.items())[:DIFF_ROWS]:
            lines.append(f"{escape(k):<18} A {escape(_short(va)):<12} B {escape(_short(vb))}")
        if len(d) > DIFF_ROWS:
            lines.append(f"... and {len(d) - DIFF_ROWS} more")
        return "\n".join(lines)

    # ------------------------------------------------------------ events

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "runs-filter":
            self.query_text = event.value
            self.render_table()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = self.current_row()
        self.app.highlighted_run = row.info.path if row else None
        self.render_summary()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_run()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = event.column_key.value
        if key in SORT_KEYS:
            self.descending = not self.descending if key == self.sort_key else True
            self.sort_key = key
            self.render_table()

    # ------------------------------------------------------------ actions

    def action_filter(self) -> None:
        self.query_one("#runs-filter", Input).focus()

    def action_leave_filter(self) -> None:
        self.table.focus()

    def action_reload(self) -> None:
        self.reload()

    def action_sort(self) -> None:
        self.sort_key = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]
        self.render_table()

    def action_overlay_metric(self) -> None:
        self.overlay_key = next_key([r.info for i in self.selected for r in self.rows if r.id == i], self.overlay_key)
        self.render_compare()

    def action_reverse(self) -> None:
        self.descending = not self.descending
        self.render_table()

    def action_toggle_select(self) -> None:
        row = self.current_row()
        if row is None:
            return
        if row.id in self.selected:
            self.selected.remove(row.id)
        else:
            self.selected.append(row.id)
        self.render_table()
        self.render_compare()

    def action_clear_selection(self) -> None:
        self.selected = []
        self.render_table()
        self.render_compare()

    def action_open_run(self) -> None:
        row = self.current_row()
        if row is not None:
            self.app.open_run(row.info.path)

    def action_attach(self) -> None:
        self.action_open_run()

    def action_resume_run(self) -> None:
        """Continue the highlighted stopped or failed run from its last evaluation."""
        row = self.current_row()
        if row is None:
            return
        if row.info.status in ("running", "finished"):
            self.notify(f"{row.id} is {row.info.status}: only a stopped or failed run resumes", severity="warning")
            return
        self.app.resume_run(row.info.path)

    def action_edit_config(self) -> None:
        row = self.current_row()
        if row is None:
            return
        if not row.info.config:
            self.notify(f"{row.id} has no readable config.yaml", severity="error")
            return
        self.app.edit_config(row.info.config, origin=f"from run {row.id}")

    def action_delete(self) -> None:
        row = self.current_row()
        if row is None:
            return
        if row.info.status == "running":
            self.notify(f"{row.id} is still running: stop it first (open it, then x)", severity="warning")
            return

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.delete(row.info.path)

        self.app.push_screen(Confirm(f"Delete run {row.id} and all its files (checkpoint, events, log)?",
                                     yes="Delete", no="Keep"), confirmed)

    def delete(self, path: Path) -> None:
        root = Path(self.app.runs_dir).resolve()
        path = Path(path).resolve()
        if path.parent != root:  # never remove anything outside the runs directory
            self.notify(f"refusing to delete {path}: not a run under {root}", severity="error")
            return
        self.app.forget_run(path)
        shutil.rmtree(path, ignore_errors=True)
        self.notify(f"deleted {path.name}")
        self.reload()


def short_id(run_id: str) -> str:
    """'20250301-100000-DiffRec-synthetic-2' -> '20250301-100000-2': the model and dataset
    have their own columns; the stamp (and a same-second counter) still tell runs apart."""
    parts = run_id.split("-")
    if len(parts) >= 4 and parts[0].isdigit() and parts[1].isdigit():
        return "-".join(parts[:2] + ([parts[-1]] if parts[-1].isdigit() and len(parts) > 4 else []))
    return run_id
