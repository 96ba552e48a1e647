"""Render the config schema as Markdown: `python -m engine.docs > docs/config.md`."""
from __future__ import annotations

import sys

from . import config, recbole_keys


def _value(v) -> str:
    if v is None:
        return "(empty)"
    if isinstance(v, bool):
        return str(v).lower()
    return f"`{v}`"


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _allowed(f: config.Field) -> str:
    if f.choices:
        return ", ".join(f.choices)
    if f.min is not None or f.max is not None:
        lo = "" if f.min is None else (f"> {_num(f.min)}" if f.min_exclusive else f">= {_num(f.min)}")
        hi = "" if f.max is None else f"<= {_num(f.max)}"
        return " and ".join(x for x in (lo, hi) if x)
    return ""


def markdown() -> str:
    lines = ["# Config keys", "",
             "Generated from `engine/config.py` (`python -m engine.docs > docs/config.md`).",
             "Key names follow RecBole; unknown keys are rejected with a suggestion.", ""]
    for group in config.GROUPS:
        lines += [f"## {group}", "", "| key | type | default | allowed | models | help |", "|---|---|---|---|---|---|"]
        for f in config.FIELDS:
            if f.group == group:
                models = ", ".join(f.models) if f.models else "all"
                needs = f" (only with `{f.needs}: true`)" if f.needs else ""
                lines.append(f"| `{f.name}` | {f.kind} | {_value(f.default)} | {_allowed(f)} | {models} | {f.help}{needs} |")
        lines.append("")
    return "\n".join(lines + recbole_section())


def recbole_section() -> list[str]:
    """Which RecBole keys mean what here, and which are accepted without a meaning."""
    lines = ["## RecBole's keys", "",
             "RecBole's own files (`overall.yaml`, `DiffRec.yaml`, `LDiffRec.yaml`, dataset properties such as "
             "`ml-100k.yaml`) load unchanged, concatenated or one after the other. The model keys above keep "
             "RecBole's names and defaults. The general and dataset keys mean this here:", "",
             "| RecBole key | here |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in recbole_keys.MAPPED.items()]
    lines += ["", "These RecBole keys cannot matter for these models: they are accepted, and the keys a config "
              "gives are named in one note line when a run starts (headless and in the app). Any other "
              "unknown key is an error that suggests the closest known key.", "",
              "| RecBole key | only used for |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in recbole_keys.IGNORED.items()]
    return lines + [""]


if __name__ == "__main__":
    sys.stdout.write(markdown())
