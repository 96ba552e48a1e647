"""The config being edited in the app (no Textual here, so it is testable on its own).

The form keeps, per key, what the user sees: text for number/list/string inputs, a bool
for switches, a choice for selects. `Draft` turns that into a config with the engine's
own `problems()` and `resolve()`, so the app never keeps a second list of rules.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from engine.config import coerce as coercion
from engine.config import files as config_files
from engine.config import recbole_keys
from engine.config import schema as config_mod
from engine.config.fields import Field, Problem
from engine.config.schema import SCHEMA
from engine.config.text import flow, update_text
from engine.errors import ConfigError
from engine.untrusted import read_text, read_yaml

TEXT_KINDS = ("int", "float", "str", "int_list", "float_list", "str_list", "mapping")
LIST_KINDS = ("int_list", "float_list", "str_list")
# The keys the schedule preview depends on (engine.models.schedule.from_config reads these).
SCHEDULE_KEYS = ("noise_schedule", "noise_scale", "noise_min", "noise_max", "steps", "beta_fixed")


def to_text(f: Field, value: Any) -> str:
    """A config value as the form shows it in a text input."""
    if value is None:
        return ""
    if f.kind in LIST_KINDS:
        return "[" + ", ".join(_scalar_text(x) for x in value) + "]"
    if f.kind == "mapping":
        return yaml.safe_dump(value, default_flow_style=True).strip()
    return _scalar_text(value)


def _scalar_text(x: Any) -> str:
    return repr(x) if isinstance(x, float) else str(x)


def form_value(f: Field, value: Any) -> Any:
    """What a field's widget holds for a config value."""
    if f.kind == "bool":
        return bool(value)
    if f.kind == "choice":
        return value
    return to_text(f, value)


class Draft:
    """The editor's config: raw form values, their problems, dirty state, load/save."""

    def __init__(self, cfg: dict | None = None, path: str | Path | None = None):
        self.path: Path | None = None
        self.origin: str = ""  # e.g. "from run <id>" when opened from a run
        self.note: str | None = None  # its file's note lines: ignored RecBole keys, how it is read
        self.raw: dict[str, Any] = {}
        self._saved: dict[str, Any] = {}
        self.sticky: dict[str, Problem] = {}  # a file's bad bool/choice values, until the key is set
        self.unknown: dict[str, Any] = {}  # a file's unknown keys: problems, dropped when saved
        self.replace(cfg or config_mod.defaults(), path)
        self._remember_file(self.path)

    # ------------------------------------------------------------ state

    def replace(self, cfg: dict, path: str | Path | None, origin: str = "", dirty: bool = False) -> None:
        """Show `cfg` (a resolved config) in the editor."""
        full = {**config_mod.defaults(), **cfg}
        self.raw = {k: form_value(SCHEMA[k], v) for k, v in full.items() if k in SCHEMA}
        self.path = Path(path) if path else None
        self.origin = origin
        self.note = None
        self.sticky, self.unknown = {}, {}
        self.file_text: str | None = None  # the YAML it came from: save keeps its comments
        self.file_keys: set[str] = set()  # the keys that file set: save writes them again
        self._file_values: dict[str, Any] = {}  # their values as read: unchanged lines stay as written
        self._saved = {} if dirty else self._normalized()
        self._check()

    def _remember_file(self, path: Path | None) -> None:
        """The text and values of the file the draft came from (save edits only changed lines)."""
        self.file_text, self.file_keys, self._file_values = None, set(), {}
        if path is None:
            return
        try:
            text, given = read_text(Path(path)), recbole_keys.translate(read_yaml(path))
        except ConfigError:
            return
        self.file_text, self.file_keys = text, set(given) & set(SCHEMA)
        for key in self.file_keys:
            try:
                self._file_values[key] = config_files.absolute_paths({key: config_mod.coerce(key, given[key])})[key]
            except ConfigError:
                pass  # a bad value: its line is rewritten on save

    def set(self, key: str, value: Any) -> None:
        self.raw[key] = value
        self.sticky.pop(key, None)
        self._check()

    @property
    def model(self) -> str:
        return str(self.raw.get("model", "DiffRec"))

    @property
    def dirty(self) -> bool:
        return self._normalized() != self._saved

    @property
    def name(self) -> str:
        if self.path:
            return self.path.name
        return self.origin or "untitled"

    # ------------------------------------------------------------ validation

    def _check(self) -> None:
        values, own = self._parsed()
        found = own + config_mod.problems(values)
        found += [p for k, p in self.sticky.items() if all(q.key != k for q in found)]
        found += [Problem(k, f"config: unknown key `{k}`{config_mod.suggest(k)} (dropped when saved)")
                  for k in self.unknown]
        self.problems: list[Problem] = found
        self.errors: dict[str, str] = {}
        for p in found:
            self.errors.setdefault(p.key, p.message)

    def _parsed(self) -> tuple[dict, list[Problem]]:
        """Form values ready for config.problems(); list/mapping text is parsed here so a
        YAML syntax slip becomes a message, not an exception."""
        out, own = {}, []
        for key, value in self.raw.items():
            f = SCHEMA[key]
            if f.kind in LIST_KINDS or f.kind == "mapping":
                try:
                    out[key] = _parse_text(f, value)
                except (yaml.YAMLError, ValueError):
                    example = "[200, 600]" if f.kind != "mapping" else "{split: {RS: [0.8, 0.1, 0.1]}}"
                    own.append(Problem(key, f"config: `{key}` = {value!r} is not valid; write it like {example}"))
            else:
                out[key] = value
        return out, own

    def resolved(self, unknown_ok: bool = False) -> dict:
        """The full config (data paths made absolute); ConfigError with the first problem
        (unknown keys aside when `unknown_ok`: saving drops them)."""
        found = [p for p in self.problems if not (unknown_ok and p.key in self.unknown)]
        if found:
            raise ConfigError(found[0].message)
        values, _ = self._parsed()
        return config_files.absolute_paths(config_mod.resolve(values))

    def preview_config(self) -> dict | None:
        """Defaults plus the schedule keys, or None while one of them has a problem."""
        if any(k in self.errors for k in SCHEDULE_KEYS):
            return None
        cfg = config_mod.defaults()
        for key in SCHEDULE_KEYS:
            try:
                cfg[key] = config_mod.coerce(key, self.raw[key])
            except ConfigError:
                return None
        return cfg

    def _normalized(self) -> dict:
        """Values compared for the dirty marker: '1e-3' and '0.001' are the same value."""
        values, _ = self._parsed()
        out = {}
        for key, value in self.raw.items():
            try:
                if key not in values:  # its text did not parse
                    raise ConfigError(key)
                out[key] = config_mod.coerce(key, values[key])
            except ConfigError:
                out[key] = ("invalid", str(value))
        return out

    # ------------------------------------------------------------ files

    def load(self, path: str | Path, overrides: list[str] | None = None) -> None:
        """Read a YAML config into the editor. Bad values and unknown keys open too, each
        shown as a problem; ConfigError only for a missing, unreadable or malformed file."""
        raw = read_yaml(path)
        for item in overrides or []:
            key, value = config_files.parse_override(item)
            raw[key] = value
        given = recbole_keys.translate(raw)
        cfg, texts, sticky = config_mod.defaults(), {}, {}
        for key, value in given.items():
            if key not in SCHEMA:
                continue
            try:
                cfg[key] = config_mod.coerce(key, value)
            except ConfigError as exc:  # shown as typed in a text field; else a problem until set
                if SCHEMA[key].kind in TEXT_KINDS:
                    texts[key] = value if isinstance(value, str) else flow(value)
                else:
                    sticky[key] = Problem(key, str(exc))
        self.replace(config_files.absolute_paths(cfg), path)
        self.raw.update(texts)
        self.sticky, self.unknown = sticky, {k: v for k, v in given.items() if k not in SCHEMA}
        self._remember_file(self.path)
        self._saved = self._normalized()  # as the file is: not modified
        self._check()
        self.note = recbole_keys.notes(raw, cfg, valid=not self.problems)

    def save(self, path: str | Path | None = None) -> Path:
        """Write the keys its file had or the user changed (values that differ from the
        defaults) into that file's text, comments kept; unknown keys are dropped."""
        target = Path(path) if path else self.path
        if target is None:
            raise ConfigError("config: this config has no file yet; use Save as")
        cfg, defaults = self.resolved(unknown_ok=True), config_mod.defaults()
        keep = {k: v for k, v in cfg.items() if k in self.file_keys or v != defaults.get(k)}
        changed = {k: v for k, v in keep.items() if k not in self._file_values or self._file_values[k] != v}
        text = update_text(self.file_text or "", changed, drop=set(self.unknown))
        try:
            Path(target).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"config: cannot write {target}: {exc.strerror or exc}") from None
        self.path = target
        self.origin = ""
        self.unknown = {}
        self._remember_file(target)
        self._check()
        self._saved = self._normalized()
        return target


def _parse_text(f: Field, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if f.nullable and not value.strip():
        return None  # an empty field of an optional key: not set
    return _copy(_parse_cached(f.kind, value.strip()))


def _copy(v: Any) -> Any:
    return list(v) if isinstance(v, list) else (dict(v) if isinstance(v, dict) else v)


@lru_cache(maxsize=512)
def _parse_cached(kind: str, text: str) -> Any:
    """YAML is slow to parse; the form re-checks the same texts on every keystroke."""
    if kind == "mapping":
        return yaml.safe_load(text) if text else None
    return coercion.parse_list(text)  # the reader --set and YAML files use: '200, 600' is a list too
