"""Render the config schema as Markdown: `python -m engine.docs > docs/config.md`."""
from __future__ import annotations

import sys

from . import config


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
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(markdown())
