"""Optimizers and the update step, as RecBole's trainer builds them: `learner` picks the
optimizer (AdamW by default, as in the DiffRec paper); each batch's loss runs under
autocast with `enable_amp`, its gradients are scaled with `enable_scaler` (CUDA only, as in
RecBole) and their norm is clipped with `clip_grad_norm` (torch's clip_grad_norm_ arguments).

The default AdamW is this module's, not torch.optim's: torch.optim's optimizers import
torch._dynamo the first time one is built or stepped (about 1.4 s on the 2-core machines
these runs are measured on: as long as importing torch itself, for a compiler these runs
never use). It is the same update as `torch.optim.AdamW(..., fused=True)` (decoupled weight
decay, bias-corrected moments; the same kernel, bit for bit where torch has it: CPU and
CUDA), with a plain-ops fallback elsewhere, and a state_dict in torch.optim's layout, so
resume files written by either load in both. The other learners are torch.optim's.
"""
from __future__ import annotations

import math
from typing import Iterable

import torch


def make(params: Iterable[torch.nn.Parameter], cfg: dict, lr: float | None = None):
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

    def step(self, loss: torch.Tensor, optimizers: list, parameters: Iterable[torch.nn.Parameter]) -> None:
        self.scaler.scale(loss).backward()
        if self.clip:
            for opt in optimizers:
                self.scaler.unscale_(opt)  # clip the true gradients, not the scaled ones
            torch.nn.utils.clip_grad_norm_(list(parameters), **self.clip)
        for opt in optimizers:
            self.scaler.step(opt)
        self.scaler.update()


# torch.optim.AdamW's other group keys, so that it reads our state_dict as its own
TORCH_GROUP_KEYS = {"amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
                    "differentiable": False, "fused": None, "decoupled_weight_decay": True}


class AdamW:
    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 1e-2,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params = [p for p in params if p.requires_grad]
        self.param_groups = [{"params": self.params, "lr": lr, "betas": tuple(betas), "eps": eps,
                              "weight_decay": weight_decay, **TORCH_GROUP_KEYS}]
        self.state: dict[int, dict[str, torch.Tensor]] = {}
        self.fused = all(p.device.type in ("cpu", "cuda") for p in self.params) and hasattr(torch, "_fused_adamw_")

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def _state(self, i: int, p: torch.Tensor) -> dict[str, torch.Tensor]:
        s = self.state.get(i)
        if s is None:
            s = self.state[i] = {"step": torch.zeros((), dtype=torch.float32, device=p.device),
                                 "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                                 "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
        return s

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        live = [(i, p) for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        states = [self._state(i, p) for i, p in live]
        args = ([p for _, p in live], [p.grad for _, p in live], [s["exp_avg"] for s in states],
                [s["exp_avg_sq"] for s in states], [s["step"] for s in states])
        if self.fused:
            try:
                return self._fused(group, *args)
            except (RuntimeError, NotImplementedError):  # no fused kernel for this device in this torch
                self.fused = False
        self._plain(group, *args)

    @staticmethod
    def _fused(group, params, grads, exp_avgs, exp_avg_sqs, steps) -> None:
        for s in steps:
            s.add_(1)
        beta1, beta2 = group["betas"]
        torch._fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, [], steps, lr=group["lr"], beta1=beta1,
                            beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"],
                            amsgrad=False, maximize=False, grad_scale=None, found_inf=None)

    @staticmethod
    def _plain(group, params, grads, exp_avgs, exp_avg_sqs, steps) -> None:
        """torch.optim's single-tensor AdamW (reads each step count back: fine off CUDA)."""
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        for p, g, m, v, s in zip(params, grads, exp_avgs, exp_avg_sqs, steps):
            s.add_(1)
            n = float(s)
            p.mul_(1 - lr * wd)
            m.lerp_(g, 1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            denom = (v.sqrt() / math.sqrt(1 - beta2 ** n)).add_(eps)
            p.addcdiv_(m, denom, value=-lr / (1 - beta1 ** n))

    def state_dict(self) -> dict:
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        group.update(fused=self.fused or None, params=list(range(len(self.params))))
        return {"state": {i: dict(s) for i, s in self.state.items()}, "param_groups": [group]}

    def load_state_dict(self, state_dict: dict) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self.params):
            raise ValueError("optimizer state does not match this model's parameters")
        group = groups[0]
        for key in ("lr", "eps", "weight_decay"):
            self.param_groups[0][key] = group[key]
        self.param_groups[0]["betas"] = tuple(group["betas"])
        self.state = {}
        for pos, i in enumerate(group["params"]):
            s = state_dict["state"].get(i)
            if s is None:
                continue
            p = self.params[pos]
            self.state[pos] = {  # copies: the loaded state may belong to a live optimizer
                "step": torch.as_tensor(s["step"], dtype=torch.float32).to(p.device, copy=True).reshape(()),
                "exp_avg": s["exp_avg"].to(p.device, p.dtype, copy=True),
                "exp_avg_sq": s["exp_avg_sq"].to(p.device, p.dtype, copy=True)}


LEARNERS = {"adam": torch.optim.Adam, "adamw": AdamW, "sgd": torch.optim.SGD,
            "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop}
