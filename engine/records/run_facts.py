"""What the run index keeps of one run (its facts), read from the run's files as untrusted
input, fast: only the config keys a row shows, parsed with libyaml, and the events a row
depends on (epoch lines, most of a file, read by pattern)."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from engine.errors import InputError, one_line, os_reason
from engine.records.runs import TERMINAL, RunDir, RunInfo
from engine.untrusted import parse_yaml, read_text

ROW_KEYS = ("model", "dataset", "steps", "noise_scale", "learning_rate", "dims_dnn", "valid_metric",
            "valid_metric_bigger", "metrics")  # what a Runs row, a picker and --run's peer table show


_EPOCH = re.compile(r'^\{"type": "epoch", "time": [-0-9.eE+]+, "epoch": (\d+),')
_TYPE = re.compile(r'^\{"type": "([a-z_]+)"')


_ROW_LINES = re.compile(r"^(?:%s):.*(?:\n[ \t-].*)*" % "|".join(map(re.escape, ROW_KEYS)), re.M)


def row_config(path: Path) -> dict:
    """The ROW_KEYS of a config file, parsing only their top-level entries (a resolved config
    has a hundred keys; a row shows a few). A file these lines do not carry on their own
    (flow style, aliases, a key given twice, no mapping) is parsed whole, with its errors."""
    text = read_text(path)
    part = "\n".join(_ROW_LINES.findall(text))
    if part:
        try:
            data = parse_yaml(part, path, fast=True)
            if set(data) <= set(ROW_KEYS):
                return data
        except InputError:
            pass
    return {k: v for k, v in parse_yaml(text, path, fast=True).items() if k in ROW_KEYS}


def read_facts(path: Path) -> dict:
    """What the index keeps of one run, read from its files as untrusted input."""
    run = RunDir(path)
    broken = None
    try:
        cfg = row_config(run.config_file)
    except InputError as exc:
        cfg, broken = {}, _relative(str(exc), path)
    try:
        text = run.events_file.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        text, broken = "", broken or f"{run.events_file.name} cannot be read: {os_reason(exc)}"
    summary = run.summary()
    summary = summary if isinstance(summary, dict) else None
    summary_best = bool(summary and isinstance(summary.get("valid"), dict) and summary["valid"])
    events, epochs = _key_events(text, need_evals=not summary_best)
    info = RunInfo(run.path, cfg, summary, events)
    valid, test = info.best
    started = next((e for e in events if e["type"] == "started"), None)
    last = next((e for e in reversed(events) if e["type"] in TERMINAL), None)
    return {"broken": broken, "ended": info._ended(), "reason": str((last or summary or {}).get("reason") or ""),
            "keys": {k: _plain(cfg[k]) for k in ROW_KEYS if k in cfg}, "epochs": epochs,
            "valid": _numbers(valid), "test": _numbers(test), "has_events": bool(text.strip()),
            "started": {k: _plain(started.get(k)) for k in ("pid", "model", "fingerprint")} if started else None,
            "started_at": events[0].get("time") if events and _is_num(events[0].get("time")) else None,
            "checkpoint": run.checkpoint_file.is_file()}


def _key_events(text: str, need_evals: bool) -> tuple[list[dict], int]:
    """The events a row depends on (the first, `started`, final ones, evals when no summary
    holds the best metrics) and the highest epoch. Epoch lines, most of a file, are read by
    a pattern when they have the shape the writer gives them, else parsed like the rest."""
    kept, epochs = [], 0
    for line in text.split("\n"):
        if not line:
            continue
        kind = _TYPE.match(line) if line.endswith("}") else None
        if kind and kind[1] == "epoch" and kept:
            m = _EPOCH.match(line)
            if m:
                epochs = max(epochs, int(m[1]))
                continue
        elif kind and kept and (kind[1] == "checkpoint" or kind[1] == "eval" and not need_evals):
            continue
        ev = _event(line)
        if ev is None:
            continue
        if ev["type"] == "epoch":
            epochs = max(epochs, ev["epoch"] if isinstance(ev.get("epoch"), int) else 0)
            if kept:
                continue
        kept.append(ev)
    return kept, epochs


def _event(line: str) -> dict | None:
    try:
        ev = json.loads(line)
    except ValueError:
        return None
    if not isinstance(ev, dict) or not isinstance(ev.get("type"), str):
        return None
    if ev["type"] == "eval" and not (isinstance(ev.get("valid"), dict) and isinstance(ev.get("test"), dict)):
        return None  # a hand-edited eval without metrics: nothing to rank by
    if ev["type"] == "eval":
        ev["valid"], ev["test"] = _numbers(ev["valid"]), _numbers(ev["test"])
    return ev


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _numbers(d) -> dict:
    return {str(k): v for k, v in d.items() if _is_num(v)} if isinstance(d, dict) else {}


def _plain(v):
    """A value as JSON keeps it (a YAML date or a nested odd type becomes its text)."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return str(v)


def _relative(message: str, path: Path) -> str:
    """A reader's message with the run's own folder left out (the row names the run)."""
    return one_line(message.replace(str(path) + os.sep, "").removeprefix("config: "))
