"""The config form, generated from engine.config.schema.SCHEMA (no second list of keys here).

One section per schema group; per field a label line (name, help and, when the value is
wrong, the engine's message) and the widget for its kind: Switch for bool, Select for a
choice, Input for numbers, strings and lists. Fields that do not apply to the selected
model are hidden.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, Switch

from engine.config.fields import GROUPS, Field
from engine.config.schema import SCHEMA, applies

from diffrec_tui.state import Draft, form_value
from diffrec_tui.widgets.paint import after_paint


def control_id(name: str) -> str:
    return f"field-{name}"


def clean(message: str) -> str:
    """'config: `x` = 1 ...' -> '`x` = 1 ...' (the form already says it is the config)."""
    return message[len("config: "):] if message.startswith("config: ") else message


def make_control(f: Field, value: Any, blink: bool = True, classes: str = "") -> Widget:
    wid, classes = control_id(f.name), f"field-control {classes}".strip()
    if f.kind == "bool":
        return Switch(value=bool(value), id=wid, classes=classes)
    if f.kind == "choice":
        return Select([(c, c) for c in f.choices], value=value, allow_blank=False, id=wid,
                      classes=classes, compact=True)
    placeholder = "empty = none" if f.nullable else ""
    # No `compact` and no validation on change: both set CSS classes in the constructor,
    # which restyles the widget before it is even mounted (slow for ~50 inputs).
    inp = Input(value=value, placeholder=placeholder, id=wid, classes=classes, validate_on=["submitted"])
    inp.cursor_blink = blink
    return inp


@dataclass
class FieldWidgets:
    """A field's two widgets (its label with help or error, its control) and what they
    show now, so that a redraw touches only what changed."""
    field: Field
    label: Static
    control: Widget
    shown: bool = True
    error: str | None = None
    text: str = ""  # the label's current markup


def text_height(markup: str, width: int) -> int:
    """Lines a label needs at `width` columns (markup tags dropped; a close estimate)."""
    plain = Text.from_markup(markup.replace("[$", "[").replace("$error]", "red]")).plain
    return sum(max(1, -(-len(line) // max(1, width))) for line in plain.split("\n"))


def label_text(f: Field, error: str | None) -> str:
    text = f"[b]{escape(f.name)}[/b]  [dim]{escape(f.help)}[/dim]"
    return f"{text}\n[b $error]✗ {escape(clean(error))}[/]" if error else text


class FieldGroup(Vertical):
    """One schema group's fields: per field a label line (name, help, error) and its widget.

    Only fields that apply to the selected model are built; the others are built (in
    their place) the first time a model they apply to is chosen."""

    def __init__(self, form: "ConfigForm", group: str, fields: list[Field]):
        super().__init__(classes="form-group", id=f"group-{group.lower()}")
        self.form, self.group, self.fields = form, group, fields

    def build(self, f: Field) -> FieldWidgets:
        draft = self.form.draft
        error = draft.errors.get(f.name)
        cls = f"field f-{f.name}" + (" -problem" if error else "")
        blink = not self.app.is_headless  # snapshot tests: no blinking cursor
        text = label_text(f, error)
        w = FieldWidgets(f, Static(text, classes=f"{cls} field-label"),
                         make_control(f, draft.raw.get(f.name, form_value(f, f.default)), blink, cls),
                         True, error, text)
        self.form.rows[f.name] = w
        return w

    def compose(self) -> ComposeResult:
        yield Label(self.group, classes="group-title")
        for f in self.fields:
            if applies(f, self.form.draft.model):
                w = self.build(f)
                yield w.label
                yield w.control

    def add_missing(self, model: str) -> None:
        """Build the fields of `model` that were never shown, right after their predecessor."""
        anchor: Widget = self.query_one(".group-title")
        for f in self.fields:
            w = self.form.rows.get(f.name)
            if w is None and applies(f, model):
                w = self.build(f)
                self.mount(w.label, w.control, after=anchor)
            if w is not None:
                anchor = w.control

    def on_mount(self) -> None:
        self.form.refresh_state()  # the draft may have changed while this group waited to mount


class ConfigForm(VerticalScroll):
    """Edits a `Draft` in place and posts `ConfigForm.Edited` after each change.

    Groups are mounted after the first paint, so the screen shows quickly; `rows` holds
    the fields built so far."""

    FIRST_BATCH = 2  # groups in view first (Model, Diffusion); the rest in one more frame

    class Edited(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, draft: Draft, *, id: str | None = None):
        super().__init__(id=id)
        self.draft = draft
        self.rows: dict[str, FieldWidgets] = {}
        self.can_focus = False
        by_group: dict[str, list[Field]] = {}
        for f in SCHEMA.values():
            by_group.setdefault(f.group, []).append(f)
        order = dict.fromkeys([g for g in GROUPS if g in by_group] + list(by_group))
        self._pending = [FieldGroup(self, g, by_group[g]) for g in order]
        self._model = draft.model

    @property
    def complete(self) -> bool:
        """Every group is mounted (tests and snapshots wait for this)."""
        return not self._pending and all(g.is_mounted for g in self.query(FieldGroup))

    def on_mount(self) -> None:
        after_paint(self, self._mount_next)

    async def _mount_next(self) -> None:
        """Mount the groups in two batches after the first paint: the screen shows at once,
        the top of the form next, and the rest (below the fold) in one layout pass."""
        if self._pending:
            n = self.FIRST_BATCH if not self.query(FieldGroup) else len(self._pending)
            batch, self._pending = self._pending[:n], self._pending[n:]
            await self.mount_all(batch)
            self.call_after_refresh(self._mount_next)

    # ------------------------------------------------------------ edits

    def _edited(self, widget: Widget, value: Any) -> None:
        if not widget.id or not widget.id.startswith("field-"):
            return
        key = widget.id[len("field-"):]
        if self.draft.raw.get(key) == value:
            return
        self.draft.set(key, value)
        self.refresh_state()
        self.post_message(self.Edited(key))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._edited(event.input, event.value)

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is not Select.BLANK:
            self._edited(event.select, event.value)

    def on_switch_changed(self, event: Switch.Changed) -> None:
        event.stop()
        self._edited(event.switch, event.value)

    # ------------------------------------------------------------ display

    def refresh_state(self) -> None:
        """Errors under their fields; hide keys that do not apply to the model."""
        model = self.draft.model
        if model != self._model:
            self._model = model
            for group in self.query(FieldGroup):
                group.add_missing(model)
                group.display = any(applies(f, model) for f in group.fields)  # Diffusion: not for Pop
        for w in self.rows.values():
            shown, error = applies(w.field, model), self.draft.errors.get(w.field.name)
            if shown != w.shown:
                w.label.display = w.control.display = w.shown = shown
            if error != w.error:
                w.label.set_class(bool(error), "-problem")
                w.control.set_class(bool(error), "-problem")
                text = label_text(w.field, error)
                # A layout pass costs a lot with ~100 widgets: only when the height changes.
                width = w.label.size.width
                relayout = not width or text_height(text, width) != text_height(w.text, width)
                w.label.update(text, layout=relayout)
                w.error, w.text = error, text

    def load_values(self) -> None:
        """Show the draft's values (after load / open from a run) without echo events."""
        with self.prevent(Input.Changed, Select.Changed, Switch.Changed):
            for key, w in self.rows.items():
                w.control.value = self.draft.raw.get(key)
        self.refresh_state()

    def focus_field(self, key: str) -> None:
        w = self.rows.get(key)
        if w is not None and w.shown:
            w.control.focus()
            self.scroll_to_widget(w.control, animate=False)
