"""The Runs table's sweeps as collapsible groups: a group row headed by the sweep's name,
its trials under it in the table's order (enter or space on the group row folds them).
The group sits where its first trial would in that order; other runs sort as before."""
from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text

from diffrec_tui.screens.run_rows import COLUMNS, Row

GROUP_PREFIX = "sweep:"  # group rows' table keys (run ids never start so)


@dataclass
class GroupRow:
    """A sweep's row: not a run (the screen's run actions skip it), `trials` in table order."""
    sweep: str
    trials: list[Row] = field(default_factory=list)
    folded: bool = False
    note: str = ""

    @property
    def id(self) -> str:
        return GROUP_PREFIX + self.sweep

    @property
    def cells(self) -> tuple:
        name = self.sweep.split("-", 3)[-1]
        counts: dict[str, int] = {}
        for r in self.trials:
            counts[r.status] = counts.get(r.status, 0) + 1
        status = ", ".join(f"{n} {s}" for s, n in counts.items())
        head = f"{'▸' if self.folded else '▾'} sweep {name} ({len(self.trials)})"
        return (head, status) + ("",) * (len(COLUMNS) - 3)

    def texts(self) -> list[Text]:
        return [Text(c, style="bold") for c in self.cells]


def grouped(rows: list[Row], key: str, descending: bool, folded: set[str]) -> tuple[list, dict[str, GroupRow]]:
    """The rows in table order, each sweep's trials after its group row unless folded;
    and the group rows by table key."""
    ordered = sorted(rows, key=lambda r: (isinstance(r.sort[key], str), r.sort[key]), reverse=descending)
    top, groups = [], {}
    for r in ordered:
        sweep = r.info.sweep
        if not sweep:
            top.append(r)
            continue
        if sweep not in groups:
            groups[sweep] = GroupRow(sweep, folded=sweep in folded)
            top.append(groups[sweep])
        groups[sweep].trials.append(r)
    out = []
    for r in top:
        out.append(r)
        if isinstance(r, GroupRow) and not r.folded:
            out.extend(r.trials)
    return out, {g.id: g for g in groups.values()}


def sweeps_together(keys: list[str]) -> list[str]:
    """Run index keys (a run's name, a trial's sweep/name), newest first, with each sweep's
    trials right after its newest one: the order `grouped` shows runs in by start time when
    they started in the order of their names (as they are named), known before any is read."""
    parts: list[list[str]] = []
    sweeps: dict[str, list[str]] = {}
    for key in keys:
        sweep = key.rpartition("/")[0]
        if not sweep:
            parts.append([key])
            continue
        if sweep not in sweeps:
            sweeps[sweep] = []
            parts.append(sweeps[sweep])
        sweeps[sweep].append(key)
    return [key for part in parts for key in part]


def with_groups(rows: list[Row], groups: dict[str, GroupRow], folded: set[str]) -> list:
    """Rows as they stream in (sweeps_together), each sweep's group row before its first
    trial, a folded sweep's trials left out; `groups` (by table key) gains the new groups
    and every trial."""
    out: list = []
    for r in rows:
        sweep = r.info.sweep
        if sweep:
            group = groups.get(GROUP_PREFIX + sweep)
            if group is None:
                group = groups[GROUP_PREFIX + sweep] = GroupRow(sweep, folded=sweep in folded)
                out.append(group)
            group.trials.append(r)
            if group.folded:
                continue
        out.append(r)
    return out


class RunGroups:
    """Mixin for the Runs screen: `visible()` groups sweeps; `toggle_group()` folds the one
    under the cursor (True when the cursor was on a group row)."""

    folded: set[str]
    _groups: dict[str, GroupRow]

    def cursor_key(self) -> str | None:
        """The table key of the row under the cursor."""
        table = self.table
        if not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None

    def shown_runs(self, shown: int) -> int:
        """Runs passing the filter, of `shown` table rows due: group rows out, folded trials in."""
        groups = self._groups.values()
        return shown - len(groups) + sum(len(g.trials) for g in groups if g.folded)

    def group_under_cursor(self) -> GroupRow | None:
        key = self.cursor_key()
        return None if key is None else self._groups.get(key)

    def toggle_group(self) -> bool:
        group = self.group_under_cursor()
        if group is None:
            return False
        self.folded.symmetric_difference_update({group.sweep})
        self._keep_cursor = group.id
        self.render_table()
        return True
