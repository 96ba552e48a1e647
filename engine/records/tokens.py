"""The dataset's own ids: token maps recorded in a run directory (no torch, no numpy).

The loaders number users and items densely (0..n-1); what a person reads and exports is
the dataset's own ids (RecBole's tokens) and item titles. A run records them as JSON,
`{"users": [...], "items": [...], "titles": [...] | null}` indexed by dense id, and reading
them back validates them like any input from a run directory. npy data has no tokens:
its dense ids are the dataset's ids.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InputError

MAX_BYTES = 1 << 30  # a token map larger than this is not one we wrote


@dataclass(frozen=True)
class TokenMap:
    users: list[str]
    items: list[str]
    titles: list[str] | None = None

    def __post_init__(self):
        object.__setattr__(self, "_user_index", {t: i for i, t in enumerate(self.users)})
        object.__setattr__(self, "_item_index", {t: i for i, t in enumerate(self.items)})

    def user_index(self, token: str) -> int | None:
        return self._user_index.get(str(token).strip())

    def item_index(self, token: str) -> int | None:
        return self._item_index.get(str(token).strip())

    @classmethod
    def of(cls, ds) -> "TokenMap | None":
        """The dataset's tokens (None for data without any, such as npy folders)."""
        if ds.user_tokens is None or ds.item_tokens is None:
            return None
        return cls(list(ds.user_tokens), list(ds.item_tokens), list(ds.item_names) if ds.item_names else None)


def write(path: str | Path, ds) -> bool:
    """Record the dataset's token maps at `path` (atomically); False when it has none."""
    tm = TokenMap.of(ds)
    if tm is None:
        return False
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"users": tm.users, "items": tm.items, "titles": tm.titles}, ensure_ascii=False),
                   encoding="utf-8")
    os.replace(tmp, path)
    return True


def read(path: str | Path, n_users: int, n_items: int) -> TokenMap | None:
    """The token maps of a run of n_users x n_items (None when the run has none); InputError
    naming the file when it is damaged or does not fit the run."""
    path = Path(path)
    if not path.is_file():
        return None

    def bad(why: str) -> InputError:
        return InputError(f"run: {path} {why}; delete it to see dense ids, or re-train the run")

    if path.stat().st_size > MAX_BYTES:
        raise bad("is too large to be a token map")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise bad(f"cannot be read ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise bad("is not a token map")
    users = _strings(data.get("users"), n_users, "users", bad)
    items = _strings(data.get("items"), n_items, "items", bad)
    titles = data.get("titles")
    if titles is not None:
        titles = _strings(titles, n_items, "titles", bad, unique=False)
    return TokenMap(users, items, titles)


def _strings(values, n: int, what: str, bad, unique: bool = True) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise bad(f"has no list of {what} (strings)")
    if len(values) != n:
        raise bad(f"lists {len(values)} {what}, but the run has {n}")
    if unique and len(set(values)) != n:
        raise bad(f"repeats a token among its {what}")
    return values
