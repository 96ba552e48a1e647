"""Config files: read YAML (with `--set key=value` overrides), write it back, make paths
absolute, compare two configs."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from engine.config import coerce, recbole_keys, schema
from engine.errors import ConfigError
from engine.untrusted import read_yaml


def load(path: str | Path, overrides: list[str] | None = None) -> dict:
    """Read a YAML config, apply `key=value` overrides, validate, and make relative data
    paths absolute (relative to the current directory, as RecBole reads them)."""
    return load_with_note(path, overrides)[0]


def load_with_note(path: str | Path, overrides: list[str] | None = None) -> tuple[dict, str | None]:
    """`load`, and its note lines (None if none): the RecBole keys it ignored, which network
    dims_dnn builds when RecBole's files or an unset layout leave it in doubt, and a small
    eval_batch_size's cost."""
    raw = read_yaml(path)
    for item in overrides or []:
        key, value = parse_override(item)
        raw[key] = value
    cfg = absolute_paths(schema.resolve(raw))
    return cfg, recbole_keys.notes(raw, cfg)


PATH_KEYS = ("data_path", "checkpoint_dir")


def absolute_paths(cfg: dict, base: str | Path | None = None) -> dict:
    out = dict(cfg)
    for key in PATH_KEYS:
        if out.get(key):
            out[key] = str((Path(base or Path.cwd()) / Path(out[key]).expanduser()).resolve())
    if out.get("item_emb") not in (None, "auto", "svd"):
        out["item_emb"] = str((Path(base or Path.cwd()) / Path(out["item_emb"]).expanduser()).resolve())
    return out


def parse_override(item: str) -> tuple[str, Any]:
    """'dims_dnn=[200,600]' -> ('dims_dnn', [200, 600]), typed by the schema (no eval)."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set: `{item}` must look like key=value, e.g. --set steps=40")
    if recbole_keys.is_ignored(key):
        return key, text  # accepted, named in the run's note line, never used
    if key not in schema.SCHEMA:
        raise ConfigError(f"--set: unknown key `{key}`{schema.suggest(key)}")
    f = schema.SCHEMA[key]
    if f.kind in ("str", "choice"):
        value: Any = text
    else:
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            raise ConfigError(f"--set: `{key}` = {text!r} is not {coerce.describe(f)}") from None
    return key, schema.coerce(key, value)


def dump(cfg: dict) -> str:
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None)


def save(cfg: dict, path: str | Path) -> None:
    Path(path).write_text(dump(cfg), encoding="utf-8")


def diff(a: dict, b: dict) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ between two resolved configs."""
    keys = list(dict.fromkeys(list(a) + list(b)))
    return {k: (a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)}
