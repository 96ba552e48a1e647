"""Recommenders the trainer can fit, behind one small interface, and the model registry.

A method turns a batch of users' (dense) training vectors into scores over all items.
Iterative methods learn batch by batch; closed-form ones (`iterative = False`) fit once
on the sparse training matrix. New models register a factory with `register`.
"""
from __future__ import annotations

from typing import Callable

import scipy.sparse as sp
import torch
from torch import nn

from engine import optim
from engine.diffusion import GaussianDiffusion
from engine.errors import ConfigError
from engine.models import Denoiser


class Method:
    iterative = True
    module: nn.Module  # everything with parameters; its state_dict is the checkpoint

    def train_batch(self, x: torch.Tensor) -> torch.Tensor:
        """One update; the batch's loss as a 0-dim tensor on the device (reading it waits)."""
        raise NotImplementedError

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def fit(self, train: sp.csr_matrix) -> None:
        """Closed-form methods only."""

    def optimizers(self) -> list:
        return []

    def extra_state(self) -> dict:
        """Training state beyond weights and optimizers (kept for --resume)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass


class DiffRec(Method):
    """DiffRec, and T-DiffRec when the training vectors carry time weights."""

    def __init__(self, cfg: dict, n_items: int, device: torch.device):
        self.cfg = cfg
        self.module = Denoiser(n_items, cfg["dims_dnn"], cfg["embedding_size"], cfg["mlp_act_func"],
                               cfg["dropout"], cfg["dims_dnn_layout"]).to(device)
        self.diffusion = GaussianDiffusion(cfg, device)
        self.opt = optim.make(self.module.parameters(), cfg)
        self.update = optim.Update(cfg, device)

    def train_batch(self, x: torch.Tensor) -> torch.Tensor:
        self.module.train()
        self.opt.zero_grad(set_to_none=True)
        with self.update.autocast():
            loss = self.diffusion.training_loss(self.module, x)
        self.update.step(loss, [self.opt], self.module.parameters())
        return loss.detach()

    @torch.no_grad()
    def predict(self, x: torch.Tensor, trajectory: list | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        self.module.eval()
        return self.diffusion.denoise(self.module, x, self.cfg["sampling_steps"],
                                      self.cfg["sampling_noise"], trajectory, generator)

    def optimizers(self):
        return [self.opt]

    def extra_state(self):
        return {"diffusion": self.diffusion.state_dict()}

    def load_extra_state(self, state):
        if "diffusion" in state:
            self.diffusion.load_state_dict(state["diffusion"])


Factory = Callable[[dict, object, torch.device], Method]
REGISTRY: dict[str, Factory] = {"DiffRec": lambda cfg, ds, dev: DiffRec(cfg, ds.n_items, dev)}


def register(name: str, factory: Factory) -> None:
    REGISTRY[name] = factory


def build(cfg: dict, dataset, device: torch.device) -> Method:
    _load_plugins()
    factory = REGISTRY.get(cfg["model"])
    if factory is None:
        raise ConfigError(f"config: model `{cfg['model']}` is not available; choose one of {', '.join(REGISTRY)}")
    return factory(cfg, dataset, device)


def _load_plugins() -> None:
    """Import the modules that register further models (they may not exist yet)."""
    import importlib
    for name in ("engine.ldiffrec", "engine.baselines"):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
