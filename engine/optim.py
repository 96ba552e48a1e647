"""Optimizers and the update step, as RecBole's trainer builds them: `learner` picks the
optimizer (AdamW by default, as in the DiffRec paper); each batch's loss runs under
autocast with `enable_amp`, its gradients are scaled with `enable_scaler` (CUDA only, as in
RecBole) and their norm is clipped with `clip_grad_norm` (torch's clip_grad_norm_ arguments).
"""
from __future__ import annotations

from typing import Iterable

import torch

LEARNERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD,
            "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop}


def make(params: Iterable[torch.nn.Parameter], cfg: dict, lr: float | None = None) -> torch.optim.Optimizer:
    """The config's optimizer over `params` (learning rate `lr`, else learning_rate)."""
    cls = LEARNERS[cfg.get("learner") or "adamw"]
    return cls(params, lr=cfg["learning_rate"] if lr is None else lr, weight_decay=cfg["weight_decay"])


class Update:
    """One training update: `with update.autocast(): loss = ...`, then `update.step(loss,
    optimizers, parameters)` (backward, unscale + clip, step)."""

    def __init__(self, cfg: dict, device: torch.device):
        self.device_type = device.type
        self.amp = bool(cfg.get("enable_amp"))
        self.dtype = torch.bfloat16 if device.type == "cpu" else torch.float16
        scale = bool(cfg.get("enable_scaler")) and device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=scale)
        clip = cfg.get("clip_grad_norm")
        self.clip = {k: (float(v) if k in ("max_norm", "norm_type") else v) for k, v in clip.items()} if clip else None

    def autocast(self):
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=self.amp)

    def step(self, loss: torch.Tensor, optimizers: list[torch.optim.Optimizer],
             parameters: Iterable[torch.nn.Parameter]) -> None:
        self.scaler.scale(loss).backward()
        if self.clip:
            for opt in optimizers:
                self.scaler.unscale_(opt)  # clip the true gradients, not the scaled ones
            torch.nn.utils.clip_grad_norm_(list(parameters), **self.clip)
        for opt in optimizers:
            self.scaler.step(opt)
        self.scaler.update()
