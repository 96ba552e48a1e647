"""The Inspect screen's keys and fields: stepping through the trajectory, choosing a user,
the list and K, and the what-if edits (remove, add by search, reset). A mixin of
InspectScreen (screen.py), which holds the state these change and the requests they make."""
from __future__ import annotations

from textual.widgets import DataTable, Input
from textual.widgets.option_list import Option

from engine.errors import InputError

from diffrec_tui.screens.inspect.panels import HistoryPanel, MetricsPanel, ScorePanel, TopKTable
from diffrec_tui.screens.inspect.pickers import RunPicker, UserField, UserList

SEARCH_LIMIT = 20
NO_RUN = "inspect: no run loaded yet; pick a run with a checkpoint (p)"


class InspectActions:
    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in ("step", "final_step", "toggle_log"):
            return self.shown is not None and not self.shown.latent or None
        if action in ("toggle_item", "add_item"):
            return self.view is not None or None
        if action == "reset_whatif":
            return bool(self.removed or self.added) or None
        if action in ("next_k", "next_list", "focus_user"):
            return self.insp is not None or None
        return True

    # ------------------------------------------------------------ the trajectory

    def _show_step(self, step: int) -> None:
        if step != self.step:
            self.step = step
            self._publish(ScorePanel, TopKTable, MetricsPanel)  # the list and metrics follow the step

    def action_step(self, delta: int) -> None:
        v = self.shown
        if v is not None and not v.latent:
            self._show_step(max(0, min(v.steps, self.step + delta)))

    def action_final_step(self) -> None:
        if self.shown is not None:
            self._show_step(self.shown.steps)

    def action_toggle_log(self) -> None:
        shown = self.snapshot()
        vec = shown.vector()
        if vec is not None:
            self.log_x = not shown.log(vec)
            self._draw_chart()

    # ------------------------------------------------------------ runs, users, lists

    def action_focus_user(self) -> None:
        self.query_one(UserField).focus()

    def action_pick_run(self) -> None:
        self._picking = True
        self.refresh_runs()
        self.query_one(RunPicker).focus()

    def action_next_list(self) -> None:
        if self.ranked or "list" in self._busy:  # the first l on a big run starts the ranking
            modes = self.LIST_MODES
            self.list_mode = modes[(modes.index(self.list_mode) + 1) % len(modes)]
            if self.list_mode == "random":
                self._random_seed += 1  # each visit draws other users (still reproducible)
        self.load_list(force=True)
        self.query_one(UserList).focus()

    def action_next_k(self) -> None:
        ks = self.ks()
        self.k = ks[(ks.index(self.k) + 1) % len(ks)] if self.k in ks else ks[0]
        if self.user is not None:
            self.load_user(self.user, keep_edits=True)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if isinstance(event.input, UserField):
            self._user_typed(event.value.strip())
        elif event.input is self.query_one(HistoryPanel).add_field:
            found = self.query_one(HistoryPanel).found
            if found.option_count:
                self.add(int(found.get_option_at_index(found.highlighted or 0).id))
            elif event.value.strip():
                self.query_one(HistoryPanel).add_error(
                    f"no item outside the history matches {event.value.strip()!r}; type part of a name or an id")

    def _user_typed(self, text: str) -> None:
        if not text:
            return
        if self.insp is None:
            self.show_error(NO_RUN)
            return
        try:
            user = self.insp.find_user(text)  # the dataset's own id (a dense id for npy data)
        except InputError as exc:
            self.show_error(str(exc))
            return
        self.load_user(user)
        self.history_table.focus()

    # ------------------------------------------------------------ what-if

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input is self.query_one(HistoryPanel).add_field:
            self.query_one(HistoryPanel).add_error(None)
            self.search(event.value)

    def search(self, text: str) -> None:
        found = self.query_one(HistoryPanel).found
        found.clear_options()
        if self.insp is None or self.view is None or not text.strip():
            found.display = False
            return
        have = {h.item for h in self.view.history if h.item not in self.removed} | set(self.added)
        hits = [(i, n) for i, n in self.insp.search_items(text, SEARCH_LIMIT + len(have)) if i not in have]
        ids = self.insp.item_id
        found.add_options([Option(f"{ids(i)}  {n}" if n != str(ids(i)) else str(ids(i)), id=str(i))
                           for i, n in hits[:SEARCH_LIMIT]])
        found.display = bool(hits)
        if hits:
            found.highlighted = 0

    def _edited(self) -> None:
        self.clear_error()
        self.rerun_whatif()
        self.refresh_bindings()

    def action_toggle_item(self) -> None:
        table: DataTable = self.history_table
        if self.view is None or not table.row_count:
            return
        item = int(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value)
        if item in self.added:
            self.added.remove(item)
        elif item in self.removed:
            self.removed.remove(item)
        else:
            self.removed.append(item)
        self._edited()

    def add(self, item: int) -> None:
        view = self.view
        if view is None:
            return
        if item in self.added or (item in {h.item for h in view.history} and item not in self.removed):
            self.query_one(HistoryPanel).add_error(f"item {self.insp.item_id(item)} is already in user "
                                                   f"{self.insp.user_id(view.user)}'s history")
            return
        if item in self.removed:  # adding a removed item back restores it at its own place
            self.removed.remove(item)
        else:
            self.added.append(item)
        self.query_one(HistoryPanel).add_field.value = ""
        self._edited()

    def action_add_item(self) -> None:
        self.query_one(HistoryPanel).add_field.focus()

    def action_reset_whatif(self) -> None:
        self.removed, self.added = [], []
        self._edited()

    def action_leave_input(self) -> None:
        self.query_one(HistoryPanel).found.display = False
        self.history_table.focus()

    def vector(self):
        """The vector at the current step: 0 = the model's input, S = the final scores."""
        return self.snapshot().vector()
