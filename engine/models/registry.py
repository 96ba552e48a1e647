"""The models the trainer can fit, by name: one explicit table, no import-time registration.

Each model declares its config keys torch-free in engine.config (schema, model_keys), its data
checks there too (model_keys.check), and what `predict` takes in `Method.predict_options`.
A new model adds its keys there and one line here.
"""
from __future__ import annotations

from typing import Callable

import torch

from engine.errors import ConfigError
from engine.models import baselines
from engine.models.diffrec import DiffRec
from engine.models.ldiffrec import LDiffRec
from engine.models.method import Method

Factory = Callable[[dict, object, torch.device], Method]
MODELS: dict[str, Factory] = {
    "DiffRec": lambda cfg, ds, dev: DiffRec(cfg, ds.n_items, dev),
    "LDiffRec": lambda cfg, ds, dev: LDiffRec(cfg, ds, dev),
    "Pop": lambda cfg, ds, dev: baselines.Pop(ds.n_items, dev),
    "ItemKNN": lambda cfg, ds, dev: baselines.ItemKNN(cfg, ds.n_items, dev),
    "EASE": lambda cfg, ds, dev: baselines.EASE(cfg, ds.n_items, dev),
    "MultiVAE": lambda cfg, ds, dev: baselines.MultiVAE(cfg, ds.n_items, dev),
}


def build(cfg: dict, dataset, device: torch.device) -> Method:
    factory = MODELS.get(cfg["model"])
    if factory is None:
        raise ConfigError(f"config: model `{cfg['model']}` is not available; choose one of {', '.join(MODELS)}")
    return factory(cfg, dataset, device)
