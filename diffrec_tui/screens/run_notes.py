"""The Runs screen's name and note for a run (N): asked in two prompts, kept by
engine.records.notes in the run directory, shown in the run cell and the summary line."""
from __future__ import annotations

from dataclasses import replace

from rich.markup import escape

from engine.errors import InputError
from engine.records.notes import read_notes, write_notes

from diffrec_tui.screens.dialogs import PathPrompt


class RunNotes:
    """Mixin for the Runs screen (needs current_row(), table, render_summary())."""

    def action_name_run(self) -> None:
        row = self.current_row()
        if row is None:
            return
        old = read_notes(row.info.path)

        def named(name: str | None) -> None:
            if name is None and not old.name:
                name = ""
            if name is None:  # escape: keep the name, still offer the note
                name = old.name
            self.app.push_screen(PathPrompt(f"Note for {row.id} (empty: none)", old.note,
                                            placeholder="what this run tried, what it showed"),
                                 lambda note: self.save_notes(row, name, old.note if note is None else note))

        self.app.push_screen(PathPrompt(f"Name for {row.id} (empty: the run's id)", old.name,
                                        placeholder="a name you will recognise"), named)

    def save_notes(self, row, name: str, note: str) -> None:
        try:
            notes = write_notes(row.info.path, name, note)
        except (InputError, OSError) as exc:
            self.notify(str(exc), severity="error")
            return
        from diffrec_tui.screens.run_rows import make_row
        fresh = make_row(row.info)
        row.cells, row.note = fresh.cells, fresh.note  # in place: the listing's row cache keeps it
        if row.id in self._table_ids:
            self.table.update_cell(row.id, "run", row.texts()[0])
        self.render_summary()
        self.notify(f"{row.id}: " + (f"named {escape(notes.name)}" if notes.name else "no name")
                    + (", note saved" if notes.note else ""))
