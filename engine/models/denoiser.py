"""The denoiser: an MLP over the interaction vector and a sinusoidal step embedding."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.config.dims import layer_sizes
from engine.models import cpu_blas

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
    The first layer's weight holds the item columns, then the embedding columns; the two
    parts are multiplied separately (see FirstLayer), so x_t and the embedding are never
    concatenated and, at a fixed step, the embedding is just a bias.
    """

    def __init__(self, n_items: int, dims: list[int], emb_size: int = 10, act: str = "tanh",
                 dropout: float = 0.5, layout: str = "mirrored"):
        super().__init__()
        self.n_items = n_items
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
        """Training and general use: one step per row of x."""
        first = self.encoder[0]
        e = self.emb(step_embedding(t, self.emb_size)).to(x.dtype)
        x = dropout(x, self.drop.p, self.training)
        if autocast_on(x.device.type):  # mixed precision: plain ops, which autocast knows
            n = self.n_items
            h = torch.addmm(torch.addmm(first.bias, e, first.weight[:, n:].t()), x, first.weight[:, :n].t())
        else:
            h = FirstLayer.apply(x, e, first.weight, first.bias)
        return self._rest(self.act(h))

    def _rest(self, h: torch.Tensor) -> torch.Tensor:
        numpy = cpu_blas.applies(h) and not autocast_on(h.device.type)
        layers = [*self.encoder[1:], *self.decoder]
        for i, layer in enumerate(layers):
            h = cpu_blas.Linear.apply(h, layer.weight, layer.bias) if numpy else layer(h)
            if i != len(layers) - 1:
                h = self.act(h)
        return h

    @torch.no_grad()
    def at_step(self, x: torch.Tensor, step: int, out: torch.Tensor | None = None) -> torch.Tensor:
        """Inference for a whole batch at one step (eval mode, no dropout): the step's
        embedding folded into the first layer's bias; activations in place; the output
        written into `out` when given (a batch-sized buffer reused across steps). On a CPU
        the products may go through numpy's BLAS (cpu_blas: faster there off Intel)."""
        first = self.encoder[0]
        t = torch.full((1,), step, device=x.device, dtype=torch.long)
        e = self.emb(step_embedding(t, self.emb_size)).to(x.dtype)
        bias = torch.addmm(first.bias.to(x.dtype), e, first.weight[:, self.n_items:].t())[0]
        numpy = cpu_blas.applies(x)
        weights = [first.weight[:, :self.n_items], *(m.weight for m in [*self.encoder[1:], *self.decoder])]
        biases = [bias, *(m.bias for m in [*self.encoder[1:], *self.decoder])]
        last = len(weights) - 1
        h = x
        for i, (w, b) in enumerate(zip(weights, biases)):
            into = out if i == last and not autocast_on(x.device.type) else None
            h = cpu_blas.linear(h, w, b, into) if numpy else torch.addmm(b, h, w.t(), out=into)
            if i != last:
                h = _act_(self.act, h)
        return h


def autocast_on(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4
        return torch.is_autocast_enabled() or torch.is_autocast_cpu_enabled()


_IN_PLACE = {nn.Tanh: torch.tanh_, nn.ReLU: torch.relu_, nn.Sigmoid: torch.sigmoid_}


def _act_(act: nn.Module, h: torch.Tensor) -> torch.Tensor:
    f = _IN_PLACE.get(type(act))
    return f(h) if f is not None else act(h)


class FirstLayer(torch.autograd.Function):
    """h = x @ W_x^T + e @ W_e^T + b for W = [W_x | W_e] (items, then embedding columns).

    The same as a linear layer on cat([x, e]) without building the concatenation; and x
    is data (no gradient), so the backward pass skips the input gradient of the widest
    product, a sixth of a training step's multiply-adds at the paper's sizes."""

    @staticmethod
    def forward(ctx, x, e, weight, bias):
        n = x.shape[1]
        h = torch.addmm(bias, e, weight[:, n:].t())  # one bias per row: its step's embedding
        if cpu_blas.applies(x):
            h.add_(cpu_blas.mm(x, weight[:, :n].t()))
        else:
            h.addmm_(x, weight[:, :n].t())
        ctx.save_for_backward(x, e, weight)
        return h

    @staticmethod
    def backward(ctx, g):
        x, e, weight = ctx.saved_tensors
        n = x.shape[1]
        gw = torch.empty_like(weight)
        if cpu_blas.applies(x):
            cpu_blas.mm(g.contiguous().t(), x, out=gw[:, :n])
        else:
            torch.mm(g.t(), x, out=gw[:, :n])
        torch.mm(g.t(), e, out=gw[:, n:])
        gx = g @ weight[:, :n] if ctx.needs_input_grad[0] else None
        ge = g @ weight[:, n:] if ctx.needs_input_grad[1] else None
        return gx, ge, gw, g.sum(0)


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """F.dropout, faster on CPUs where torch draws the mask one element at a time: the
    same mask from the same draws (one double uniform per element, kept if below 1 - p),
    generated by the uniform kernel, about 2.5x faster than the Bernoulli one."""
    if not training or p == 0 or not _UNIFORM_MASK_MATCHES.get(x.device.type, False) or p >= 1:
        return F.dropout(x, p, training)
    keep = torch.rand(x.shape, dtype=torch.float64, device=x.device) < (1.0 - p)
    return torch.mul(x, keep).mul_(_scale(1.0 - p, x))  # x * (mask / (1 - p)), as F.dropout rounds it


def _scale(q: float, x: torch.Tensor) -> torch.Tensor:
    return torch.ones((), dtype=x.dtype, device=x.device).div_(q)  # 1/q rounded as F.dropout does


def _uniform_mask_matches() -> bool:
    """Does torch's CPU dropout draw exactly (rand(float64) < 1 - p)? True where its Bernoulli
    kernel is the serial one (e.g. AMD CPUs); MKL's (Intel CPUs) draws differently."""
    g = torch.Generator().manual_seed(12345)
    a = torch.empty(257).bernoulli_(0.7, generator=g)
    state = g.get_state()
    g.manual_seed(12345)
    b = (torch.rand(257, dtype=torch.float64, generator=g) < 0.7).float()
    return torch.equal(a, b) and torch.equal(state, g.get_state())


_UNIFORM_MASK_MATCHES = {"cpu": _uniform_mask_matches()}


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
