"""The denoiser: an MLP over the interaction vector and a sinusoidal step embedding."""
from __future__ import annotations

import math

import torch
from torch import nn

from .dims import layer_sizes

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid,
               "leakyrelu": nn.LeakyReLU, "linear": nn.Identity}


def step_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer steps: [cos(t f_i), sin(t f_i)] with geometric f_i."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


def _init(layer: nn.Linear) -> nn.Linear:
    # Xavier-normal weights, near-zero biases, as in DiffRec's reference initialisation.
    std = math.sqrt(2.0 / (layer.in_features + layer.out_features))
    nn.init.normal_(layer.weight, 0.0, std)
    nn.init.normal_(layer.bias, 0.0, 0.001)
    return layer


class Denoiser(nn.Module):
    """x_t (+ step embedding) -> encoder -> decoder -> x0 (or eps), through the layer sizes
    that `dims.layer_sizes` makes of DiffRec's `dims_dnn` and its layout: [200, 600] on
    2,810 items is 2810+emb -> 600 -> 200 -> 600 -> 2810 mirrored (the authors), and
    2810+emb -> 200 -> 600 -> 2810 as RecBole reads it.
    """

    def __init__(self, n_items: int, dims: list[int], emb_size: int = 10, act: str = "tanh",
                 dropout: float = 0.5, layout: str = "mirrored"):
        super().__init__()
        self.emb_size = emb_size
        sizes = layer_sizes(n_items, dims, layout)
        enc, dec = sizes[:len(dims) + 1], sizes[len(dims):]  # first len(dims) layers: the encoder
        self.emb = _init(nn.Linear(emb_size, emb_size))
        enc_in = [enc[0] + emb_size] + enc[1:-1]
        self.encoder = nn.ModuleList(_init(nn.Linear(a, b)) for a, b in zip(enc_in, enc[1:]))
        self.decoder = nn.ModuleList(_init(nn.Linear(a, b)) for a, b in zip(dec[:-1], dec[1:]))
        self.act = ACTIVATIONS[act]()
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h = torch.cat([self.drop(x), self.emb(step_embedding(t, self.emb_size)).to(x.dtype)], dim=-1)
        for layer in self.encoder:
            h = self.act(layer(h))
        last = len(self.decoder) - 1
        for i, layer in enumerate(self.decoder):
            h = layer(h)
            if i != last:
                h = self.act(h)
        return h


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
