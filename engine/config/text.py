"""Writing a config back into the YAML text it came from: the file's comments, order and
untouched lines stay; each written key's line gets its new value; new keys go at the end.

Only top-level `key: value` lines are edited (a block value under a key, such as a list
written one `- item` a line, is replaced by a flow value on the key's line). Anything the
editor cannot place safely is appended, never guessed.
"""
from __future__ import annotations

import re
from typing import Any

import yaml

_KEY_LINE = re.compile(r"^(?P<key>[A-Za-z_][\w\-.]*)\s*:(?P<rest>.*)$")


def flow(value: Any) -> str:
    """One value as a single-line YAML flow value."""
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("\n...").strip()


def _comment(rest: str) -> str:
    """The trailing ` # comment` of a line's value part, if it has one outside quotes."""
    m = re.search(r"\s+#.*$", rest)
    if m is None or rest[:m.start()].count('"') % 2 or rest[:m.start()].count("'") % 2:
        return ""
    return m.group(0)


def update_text(text: str, values: dict[str, Any], drop: set[str] = frozenset()) -> str:
    """`text` with each key of `values` set to its value, keys in `drop` removed, others kept."""
    lines = text.splitlines()
    out: list[str] = []
    done: set[str] = set()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _KEY_LINE.match(line)
        i += 1
        if m is None or (m["key"] not in values and m["key"] not in drop):
            out.append(line)
            continue
        while i < len(lines) and (lines[i].startswith((" ", "\t", "-")) and lines[i].strip()):
            i += 1  # the key's block value: replaced by the flow value below
        key = m["key"]
        if key in values:
            out.append(f"{key}: {flow(values[key])}{_comment(m['rest'])}")
            done.add(key)
    out += [f"{key}: {flow(v)}" for key, v in values.items() if key not in done]
    return "\n".join(out) + "\n"
