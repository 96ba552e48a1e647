"""A DataTable that renders only the cells that changed, and renders them faster.

Textual's DataTable counts every change (`_update_count`), and every render cache is keyed
by that count: appending rows or setting a cell re-renders every row in view, 60-150 ms
for a screenful of the Runs table on a busy 2-core machine, even when the change is one
row or below the view. Here the count is kept, and only the stale entries are dropped:
- `append_row`: an appended row changes no row before it (the rows' line offsets are
  recomputed);
- `update_row`: that row's cells, rows and lines;
- a column whose width changes (a new or updated cell wider than it): that column's cells
  (the others are the same segments, only placed further right: the rows are recomposed).
With a row cursor, a row and its lines are cached apart from where the cursor is unless it
is on it (a cursor move renders two rows, a scroll the rows it brings into view, not every
row in view). A one-line Text cell is made without Rich's renderers, and measured without
them: the same segments and widths; 40 rows of 14 cells render in a third of the time.
A fixed-height table is assumed (Textual's own `_on_resize` invalidates everything).

Private DataTable names used (Textual 8.2; tests/tui/test_append_table.py compares the
results with DataTable's own): `_update_count`, `_data`, `_row_locations`,
`_column_locations`, `_require_update_dimensions`, `_show_hover_cursor`,
`_pseudo_class_state`; the methods `_update_dimensions`, `_update_column_widths`,
`_render_line`, `_get_offsets`, `_render_line_in_row`, `_render_cell`,
`_get_row_renderables`, `_get_styles_to_render_cell`, `Widget._scroll_update` and
`textual.widgets._data_table.default_cell_formatter`; the caches `_offset_cache`,
`_cell_render_cache` and `_row_render_cache` (keyed by row key first, then column key or
line), `_row_renderable_cache` (by count and row index) and `_line_cache`. It also
redeclares `Widget.virtual_size` (without a layout) and wraps `render_lines` and
`rich_style` (one style a paint)."""
from __future__ import annotations

from contextlib import contextmanager

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.coordinate import Coordinate
from textual.geometry import Size
from textual.reactive import Reactive
from textual.render import measure
from textual.widgets import DataTable
from textual.widgets._data_table import default_cell_formatter
from textual.widgets.data_table import RowKey


_AWAY = Coordinate(-2, 0)  # no row's (the header's is -1)


class AppendTable(DataTable):
    virtual_size = Reactive(Size(0, 0), layout=False)  # see watch_virtual_size

    def watch_virtual_size(self, size: Size) -> None:
        """Rows came in: the scrollbars follow here. A Widget's virtual size lays the whole
        screen out again (20-30 ms for the Runs screen, for every chunk of rows), which only a
        scrollbar appearing or going needs (its own reactive asks for that)."""
        self._scroll_update(size)

    def append_row(self, *cells, key: str | None = None) -> None:
        """add_row, without re-rendering the rows already in the table."""
        count = self._update_count
        self.add_row(*cells, key=key)
        if self.row_count > 1:  # the first row: the cursor appears (a changed row)
            self._update_count = count
            self._offset_cache.clear()  # keyed by the count: the new row's lines

    def update_row(self, key: str, cells) -> None:
        """Set the row's cells (one per column, in order), re-rendering that row alone; a
        cell wider than its column widens it (re-rendering that column; a narrower one
        leaves it as it is: DataTable would measure every cell of the column again)."""
        row_key = RowKey(key)
        data = self._data[row_key]
        changed = [(c, v) for c, v in zip(self.ordered_columns, cells) if data[c.key] != v]
        if not changed:
            return
        with self._resized_columns_rerendered():
            for column, value in changed:
                data[column.key] = value
                column.content_width = max(column.content_width, self._width(value))
        index = self._row_locations.get(row_key)
        self._forget(self._cell_render_cache, lambda k: k[0] == row_key)
        self._forget(self._row_render_cache, lambda k: k[0] == row_key)
        self._row_renderable_cache.discard((self._update_count, index))
        self._line_cache.clear()  # keyed by line: recomposed from the row caches
        self._require_update_dimensions = True  # the virtual size, when a column widened
        self.refresh_row(index)
        self.check_idle()

    def _width(self, cell) -> int:
        """A one-line cell's width, as DataTable measures it (a Text: its longest line)."""
        if type(cell) is not Text:
            cell = default_cell_formatter(cell, wrap=False, height=1)
            if type(cell) is not Text:
                return measure(self.app.console, cell, 1)
        return max(map(cell_len, cell.plain.splitlines() or [""]))

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

    def render_lines(self, crop):
        self._painting = self.rich_style  # asked for each line again (DOMNode walks the ancestors)
        try:
            return super().render_lines(crop)
        finally:
            self._painting = None

    @property
    def rich_style(self) -> Style:
        return getattr(self, "_painting", None) or super().rich_style

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style):
        """DataTable's, cached (with a row cursor) apart from where the cursor is unless it
        is on the line's row: a cursor move, or the scroll it brings, renders the lines
        of two rows and those scrolled into view, not every line in view again."""
        if self.cursor_type != "row":
            return super()._render_line(y, x1, x2, base_style)
        try:
            row_key, _ = self._get_offsets(y)
        except LookupError:
            return super()._render_line(y, x1, x2, base_style)
        cursor, hover = self._near(row_key, self.cursor_coordinate, self.hover_coordinate)
        key = (y, x1, x2, self.size.width, cursor, hover, base_style, self.cursor_type, self._show_hover_cursor,
               self._update_count, self._pseudo_class_state)  # DataTable's key: the same cache, cleared alike
        strip = self._line_cache.get(key)
        if strip is None:
            strip = self._line_cache[key] = super()._render_line(y, x1, x2, base_style)
        return strip

    def _render_line_in_row(self, row_key, line_no, base_style, cursor_location, hover_location):
        """DataTable's, cached apart from where the cursor is (see _render_line)."""
        if self.cursor_type == "row":
            cursor_location, hover_location = self._near(row_key, cursor_location, hover_location)
        return super()._render_line_in_row(row_key, line_no, base_style, cursor_location, hover_location)

    def _near(self, row_key, cursor: Coordinate, hover: Coordinate) -> tuple[Coordinate, Coordinate]:
        """The cursor's and the mouse's place as a row renders with a row cursor: theirs
        when on the row, else one that is no row's (a row renders alike wherever they are)."""
        row = self._row_locations.get(row_key)
        row = -1 if row is None else row  # the header
        return cursor if cursor.row == row else _AWAY, hover if hover.row == row else _AWAY

    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False) -> list[list[Segment]]:
        """A cell's lines, as DataTable renders them; a one-line Text cell that fits its
        column (every cell of the Runs table) is made here (_one_line), several times faster
        than through Rich's renderers (a screenful is 300-500 cells). Other cells: DataTable's."""
        if row_index < self.fixed_rows or column_index < self.fixed_columns or self.rows[
                self._row_locations.get_key(row_index)].height != 1:  # the header, fixed or tall cells
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        key = (self._row_locations.get_key(row_index), self._column_locations.get_key(column_index), base_style,
               cursor, hover, self._show_hover_cursor, self._update_count, self._pseudo_class_state)  # DataTable's
        lines = self._cell_render_cache.get(key)
        if lines is None:
            lines = self._one_line(row_index, column_index, base_style, width, cursor, hover)
            if lines is None:
                return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
            self._cell_render_cache[key] = lines
        return lines

    def _one_line(self, row_index, column_index, base_style, width, cursor, hover) -> list[list[Segment]] | None:
        """The segments Rich makes of Styled(Padding(text, (0, pad)), pre, post) at `width`,
        for a Text without spans, tabs or newlines that fits (else None)."""
        text = self._get_row_renderables(row_index).cells[column_index]
        pad = self.cell_padding
        if type(text) is not Text or text.spans or text.justify not in (None, "default", "left"):
            return None
        plain = text.plain
        room = width - 2 * pad - cell_len(plain)
        if room < 0 or "\n" in plain or "\t" in plain:
            return None
        component, post = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor,
            self.cursor_foreground_priority == "css", self.cursor_background_priority == "css")
        pre = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component
        around = pre + post if post else pre
        own = self.app.console.get_style(text.style) if text.style else None
        if own is None or own == Style.null():
            return [[Segment(" " * pad + plain + " " * (room + pad), around)]]
        inner = pre + own
        return [[Segment(" " * pad, around), Segment(plain, inner + post if post else inner),
                 Segment(" " * (room + pad), around)]]

    def _update_dimensions(self, new_rows) -> None:
        """DataTable's, with the widths of one-line rows of Text cells measured here: as
        Text measures itself (its longest line), without a console's options per cell."""
        rest = []
        with self._resized_columns_rerendered():
            for row_key in new_rows:
                index, row = self._row_locations.get(row_key), self.rows.get(row_key)
                if index is None or row is None:
                    continue  # removed meanwhile
                cells = self._get_row_renderables(index).cells
                if row.label is not None or row.height != 1 or any(type(c) is not Text for c in cells):
                    rest.append(row_key)
                    continue
                for column, cell in zip(self.ordered_columns, cells):
                    column.content_width = max(column.content_width, self._width(cell))
            super()._update_dimensions(rest)

    def _update_column_widths(self, updated_cells) -> None:
        with self._resized_columns_rerendered():
            super()._update_column_widths(updated_cells)
