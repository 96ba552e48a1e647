"""Render the config schema as Markdown: `python -m engine.config.docs > docs/config.md`."""
from __future__ import annotations

import sys

from engine.config import schema as config
from engine.config import fields as config_fields
from engine.config import recbole_keys


def _value(v) -> str:
    if v is None:
        return "(empty)"
    if isinstance(v, bool):
        return str(v).lower()
    return f"`{v}`"


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _allowed(f: config_fields.Field) -> str:
    if f.choices:
        return ", ".join(f.choices)
    if f.min is not None or f.max is not None:
        lo = "" if f.min is None else (f"> {_num(f.min)}" if f.min_exclusive else f">= {_num(f.min)}")
        hi = "" if f.max is None else f"<= {_num(f.max)}"
        return " and ".join(x for x in (lo, hi) if x)
    return ""


def markdown() -> str:
    lines = ["# Config keys", "",
             "Generated from `engine/config/schema.py` (`python -m engine.config.docs > docs/config.md`).",
             "Key names follow RecBole; unknown keys are rejected with a suggestion.", ""]
    for group in config_fields.GROUPS:
        lines += [f"## {group}", "", "| key | type | default | allowed | models | help |", "|---|---|---|---|---|---|"]
        for f in config.FIELDS:
            if f.group == group:
                models = ", ".join(f.models) if f.models else "all"
                needs = f" (only with `{f.needs}: true`)" if f.needs else ""
                lines.append(f"| `{f.name}` | {f.kind} | {_value(f.default)} | {_allowed(f)} | {models} | {f.help}{needs} |")
        lines.append("")
    return "\n".join(lines + protocol_section() + recbole_section())


PROTOCOL = """## Where RecBole and the DiffRec authors differ

Four choices change the numbers a run reports. Each has a key; a config from RecBole's files
(one with RecBole-only keys such as `worker` or `state`, or with `eval_args`) gets RecBole's
choice where the key is not set, and a note line when the run starts says so.

| key | ours (default) | RecBole 1.2.1 | default for RecBole's files |
|---|---|---|---|
| split_rule | `nearest`: each held-out part is round(n x ratio), at least one each; users with fewer than 3 interactions keep all in train | `recbole`: each held-out part is int(n x ratio) and train the rest; then (test first) a part whose share n x ratio lies between 0 and 1 gets one interaction while train keeps more than one | `recbole` when `eval_args` is given |
| drop_unseen_targets | `false`: a held-out item that training never saw stays a target (a miss for every model: none learnt it) | the same (RecBole keeps them) | `false` |
| dims_dnn_layout | `mirrored`: `dims_dnn` lists the hidden sizes from the bottleneck out and the encoder mirrors the decoder, as in the authors' code: `[200, 600]` on n items is n -> 600 -> 200 -> 600 -> n | `recbole`: the layers are `[n] + dims_dnn + [n]` as written: n -> 200 -> 600 -> n | `recbole` |
| stopping_rule | `exact`: a new best needs a strictly better `valid_metric`; stop after `stopping_step` evaluations without one | `recbole`: values rounded to 4 places (RecBole's `metric_decimal_place` default), a tie counts as better (the newer model is kept), stop once more than `stopping_step` evaluations in a row were not better | `exact` (set it to compare stopping epochs) |

On ml-100k (RS 0.8/0.1/0.1) the two split rules give train/valid/test 80,024 / 9,988 / 9,988
(`nearest`) and 80,808 / 9,596 / 9,596 (`recbole`, RecBole's own counts). A single hidden
size (`dims_dnn: [300]`, RecBole's default) builds the same network in both layouts. The
paper's released splits (ml-1m_clean, ml-1m_noisy, `diffrec_npy`) are split already, so
`split_rule` does not apply, and they hold no held-out item that training lacks. The `started`
event and the summary (`split`) give the split's sizes, its rule and the held-out items
unseen in training (`unseen_targets`; `unseen_dropped` when they are dropped).
"""


def protocol_section() -> list[str]:
    """The four keys where RecBole's protocol and the DiffRec authors' differ."""
    return PROTOCOL.splitlines() + [""]


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
