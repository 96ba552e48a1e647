"""A DataTable that re-renders only the cells that changed: when rows are appended, when
one row's cells are set, when a column's width changes.

Textual's DataTable counts every change (`_update_count`), and every render cache is keyed
by that count: appending rows or setting a cell re-renders every row in view, 60-150 ms
for a screenful of the Runs table on a busy 2-core machine, even when the change is one
row or below the view. Here the count is kept, and only the stale entries are dropped:
- `append_row`: an appended row changes no row before it (the rows' line offsets are
  recomputed);
- `update_row`: that row's cells, rows and lines;
- a column whose width changes (a new or updated cell wider than it): that column's cells
  (the others are the same segments, only placed further right: the rows are recomposed).
A fixed-height table is assumed (Textual's own `_on_resize` invalidates everything).

Private DataTable names used (Textual 8.2): `_update_count`, `_data`, `_row_locations`,
`_updated_cells`, `_require_update_dimensions`, `_update_dimensions`,
`_update_column_widths`, and the caches `_offset_cache`, `_cell_render_cache` and
`_row_render_cache` (keyed by row key first, then column key), `_row_renderable_cache`
(by count and row index) and `_line_cache`."""
from __future__ import annotations

from contextlib import contextmanager

from textual.widgets import DataTable
from textual.widgets.data_table import CellKey, RowKey


class AppendTable(DataTable):
    def append_row(self, *cells, key: str | None = None) -> None:
        """add_row, without re-rendering the rows already in the table."""
        count = self._update_count
        self.add_row(*cells, key=key)
        if self.row_count > 1:  # the first row: the cursor appears (a changed row)
            self._update_count = count
            self._offset_cache.clear()  # keyed by the count: the new row's lines

    def update_row(self, key: str, cells) -> None:
        """Set the row's cells (one per column, in order), re-rendering that row alone; a
        cell no longer fitting its column resizes it (re-rendering that column)."""
        row_key = RowKey(key)
        data = self._data[row_key]
        changed = [(c.key, v) for c, v in zip(self.ordered_columns, cells) if data[c.key] != v]
        if not changed:
            return
        for column_key, value in changed:
            data[column_key] = value
            self._updated_cells.add(CellKey(row_key, column_key))
        index = self._row_locations.get(row_key)
        self._forget(self._cell_render_cache, lambda k: k[0] == row_key)
        self._forget(self._row_render_cache, lambda k: k[0] == row_key)
        self._row_renderable_cache.discard((self._update_count, index))
        self._line_cache.clear()  # keyed by line: recomposed from the row caches
        self._require_update_dimensions = True  # the column widths (see _update_column_widths)
        self.refresh_row(index)
        self.check_idle()

    @staticmethod
    def _forget(cache, stale) -> None:
        for k in [k for k in cache.keys() if stale(k)]:
            cache.discard(k)

    @contextmanager
    def _resized_columns_rerendered(self):
        widths = {c.key: c.get_render_width(self) for c in self.ordered_columns}
        yield
        resized = {c.key for c in self.ordered_columns if c.get_render_width(self) != widths.get(c.key)}
        if resized:  # every cell right of them moves: the rows are recomposed from their cells
            self._forget(self._cell_render_cache, lambda k: k[1] in resized)
            self._row_render_cache.clear()
            self._line_cache.clear()
            self.refresh()

    def _update_dimensions(self, new_rows) -> None:
        with self._resized_columns_rerendered():
            super()._update_dimensions(new_rows)

    def _update_column_widths(self, updated_cells) -> None:
        with self._resized_columns_rerendered():
            super()._update_column_widths(updated_cells)
