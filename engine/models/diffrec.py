"""DiffRec (Wang et al., SIGIR 2023): a denoiser MLP trained through Gaussian diffusion over
interaction vectors; T-DiffRec when the training vectors carry time weights."""
from __future__ import annotations

import torch

from engine.models import optim
from engine.models.denoiser import Denoiser
from engine.models.diffusion import DiffusionConfig, GaussianDiffusion
from engine.models.method import Method


class DiffRec(Method):
    """DiffRec, and T-DiffRec when the training vectors carry time weights."""

    predict_options = frozenset({"trajectory", "generator"})

    def __init__(self, cfg: dict, n_items: int, device: torch.device):
        self.cfg = cfg
        self.module = Denoiser(n_items, cfg["dims_dnn"], cfg["embedding_size"], cfg["mlp_act_func"],
                               cfg["dropout"], cfg["dims_dnn_layout"]).to(device)
        self.diffusion = GaussianDiffusion(DiffusionConfig.of(cfg), device)
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
