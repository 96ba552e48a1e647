"""What a config key is (`Field`), the schema's bounds, and how a metric is named.

No other config module is imported here: every layer that declares keys (the schema, RecBole's
keys, the baseline models' keys) builds on this module.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GROUPS = ("Model", "Diffusion", "Training", "Evaluation", "Data")
DIFFUSION_MODELS = ("DiffRec", "LDiffRec")
METRIC_NAMES = ("Recall", "NDCG", "Precision", "MRR", "Hit")

# Upper bounds: far above any sensible run, low enough that a typo (steps: 1000000000) is a
# message, not an 80 GB allocation. Whether a run fits in memory is engine.training.budget's estimate.
MAX_WIDTH = 65_536  # a hidden layer's size
MAX_STEPS = 10_000  # diffusion steps (the paper uses up to 1000)
MAX_BATCH = 1_000_000  # users in one batch
MAX_COUNT = 1_000_000_000  # epochs, evaluations, annealing steps
MAX_TOPK = 100_000
MAX_SYNTHETIC = 10_000_000  # synthetic users or items
MAX_SEED = 2 ** 32 - 1  # what numpy's and torch's seeding accept on every platform


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # bool | int | float | str | choice | int_list | float_list | str_list | mapping
    default: Any
    help: str
    group: str
    choices: tuple = ()
    min: float | None = None
    max: float | None = None
    nullable: bool = False
    models: tuple = ()  # models the key applies to; empty = all
    min_exclusive: bool = field(default=False)
    needs: str | None = None  # a bool key that must be true for this one to have any effect


def _f(name, kind, default, help, group, **kw) -> Field:
    return Field(name, kind, default, help, group, **kw)


@dataclass(frozen=True)
class Problem:
    key: str
    message: str


def parse_metric(name: str) -> tuple[str, int] | None:
    """'Recall@20' -> ('recall', 20); None if malformed."""
    if not isinstance(name, str) or "@" not in name:
        return None
    metric, _, k = name.partition("@")
    return (metric.strip().lower(), int(k)) if k.strip().isdigit() else None


def metric_key(valid_metric) -> str:
    """'Recall@20' -> 'recall@20', the key of that metric in events and summaries (recall@20,
    the default's, for a malformed name: a damaged record still lists)."""
    m = parse_metric(str(valid_metric))
    return f"{m[0]}@{m[1]}" if m else "recall@20"
