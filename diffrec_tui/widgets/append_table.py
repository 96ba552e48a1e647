"""A DataTable that keeps the rows it has rendered when rows are appended.

Textual's DataTable counts every change (`_update_count`), and every render cache is keyed
by that count: appending rows re-renders every row in view, 60-150 ms for a screenful of
the Runs table on a busy 2-core machine, even when the new rows are below the view. An
appended row changes no row before it, so `append_row` keeps the count (the rows' line
offsets are recomputed) unless the new rows widen a column, which moves every cell."""
from __future__ import annotations

from textual.widgets import DataTable


class AppendTable(DataTable):
    def append_row(self, *cells, key: str | None = None) -> None:
        """add_row, without re-rendering the rows already in the table."""
        count = self._update_count
        self.add_row(*cells, key=key)
        if self.row_count > 1:  # the first row: the cursor appears (a changed row)
            self._update_count = count
            self._offset_cache.clear()  # keyed by the count: the new row's lines

    def _update_dimensions(self, new_rows) -> None:
        widths = [c.content_width for c in self.ordered_columns]
        super()._update_dimensions(new_rows)
        if widths != [c.content_width for c in self.ordered_columns]:  # every cell moves
            self._update_count += 1
            self.refresh()
