"""The small search space `--compare` tunes each baseline over, on validation only.

A baseline compared at a hand-set value overstates the new model. Each space is a grid
around RecBole's default and the values that won on ml-1m here (EASE reg_weight 1000,
ItemKNN k 100 / shrink 0); a key the user fixed (in the config file or with --set) is
left out. Diffusion models keep their config: the paper's settings are the claim under
test. MultiVAE's anneal_cap is a cap: with RecBole's total_anneal_steps (200000 updates)
the KL weight rarely reaches it on small data, so the grid mostly tunes dropout.
"""
from __future__ import annotations

from engine.search.space import Param, Space

SPACES: dict[str, dict[str, tuple]] = {
    "EASE": {"reg_weight": (100.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0)},
    "ItemKNN": {"k": (50, 100, 200, 400), "shrink": (0.0, 10.0, 100.0)},
    "MultiVAE": {"dropout_prob": (0.2, 0.5), "anneal_cap": (0.2, 0.5)},
}


def space_for(model: str, fixed: set[str] | frozenset = frozenset()) -> Space | None:
    """The model's grid without the fixed keys; None when nothing is left to tune."""
    params = [Param(key, "choice", values, line=i)
              for i, (key, values) in enumerate(SPACES.get(model, {}).items(), start=1) if key not in fixed]
    return Space(tuple(params)) if params else None


def hyper_text(space: Space) -> str:
    """The space in RecBole's hyper.test format (kept in the sweep directory)."""
    return "".join(f"{p.key} choice [{','.join(f'{v:g}' if isinstance(v, float) else str(v) for v in p.values)}]\n"
                   for p in space.params)
