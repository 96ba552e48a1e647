"""The denoiser: an MLP over the interaction vector and a sinusoidal step embedding."""
from __future__ import annotations

import math
import threading

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
        self._fold_key, self._fold = None, None  # see _folded

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Training and general use: one step per row of x."""
        first = self.encoder[0]
        e = self.emb(step_embedding(t, self.emb_size).to(self.emb.weight.dtype)).to(x.dtype)
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

    def _step_bias(self, step: int, x: torch.Tensor) -> torch.Tensor:
        """The first layer's bias at a fixed step: its bias plus the step embedding's share."""
        first = self.encoder[0]
        t = torch.full((1,), step, device=x.device, dtype=torch.long)
        e = self.emb(step_embedding(t, self.emb_size).to(self.emb.weight.dtype)).to(x.dtype)
        return torch.addmm(first.bias.to(x.dtype), e, first.weight[:, self.n_items:].t().to(x.dtype))[0]

    @torch.no_grad()
    def at_step(self, x: torch.Tensor, step: int, out: torch.Tensor | None = None) -> torch.Tensor:
        """Inference for a whole batch at one step (eval mode, no dropout): the step's
        embedding folded into the first layer's bias; activations in place; the output
        written into `out` when given (a batch-sized buffer reused across steps). On a CPU
        the products may go through numpy's BLAS (cpu_blas: faster there off Intel)."""
        first = self.encoder[0]
        bias = self._step_bias(step, x)
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

    def folds(self, row_steps: int | None = None) -> bool:
        """Does `reverse` take fewer multiply-adds than the model run step by step? Per row
        and step it saves the two items-wide products for the fold's (first x last hidden);
        once, it works out the fold (items x first x last hidden), which `row_steps` (rows
        times steps of the batch at hand, if given) must pay back: a whole evaluation's
        batches do, one user's forty steps may not."""
        n, d_first, d_last = self.n_items, self.encoder[0].out_features, self.decoder[-1].in_features
        saving = n * (d_first + d_last) - d_first * d_last
        return saving > 0 and (row_steps is None or row_steps * saving > n * d_first * d_last)

    @torch.no_grad()
    def reverse(self, x: torch.Tensor, updates: list[tuple[int, float, float]]) -> torch.Tensor:
        """x <- a * f(x, t) + c * x for each (t, a, c) of `updates` in turn, f being this model
        at step t (eval mode): the whole reverse process of DiffRec without the noise, in
        about a fifth of the multiply-adds of running the model step by step.

        The model reads x only through its first product (W_in x) and writes it only through
        its last (W_out h + b_out), and the update is linear, so x stays W_out u + beta b_out
        + gamma x0 for a hidden-sized u and two scalars, and W_in x = M u + beta p + gamma
        W_in x0 with M = W_in W_out and p = W_in b_out, worked out once (`_folded`). A step
        then costs the hidden layers' products instead of two items-wide ones; the items-
        wide products run once each, for x0 and for the final scores. The same numbers in
        exact arithmetic; in floating point they differ from the step-by-step ones by
        rounding (about 1e-6 relatively)."""
        layers = [*self.encoder, *self.decoder]
        first, last = layers[0], layers[-1]  # the model reads and writes x only here
        numpy = cpu_blas.applies(x)
        mm = cpu_blas.mm if numpy else torch.mm
        w_in = first.weight[:, :self.n_items].to(x.dtype)
        fold, p = (t.to(x.dtype) for t in self._folded())
        z0 = mm(x, w_in.t())
        act = _tanh_ if isinstance(self.act, nn.Tanh) and x.device.type == "cpu" else lambda h: _act_(self.act, h)
        u, beta, gamma = None, 0.0, 1.0  # u None: zero (the first step skips its product)
        for step, a, c in updates:
            first_in = z0.clone() if u is None else mm(u, fold.t()).add_(z0, alpha=gamma)
            h = act(first_in.add_(self._step_bias(step, x).add_(p, alpha=beta)))
            for layer in layers[1:-1]:
                w, b = layer.weight.to(x.dtype), layer.bias.to(x.dtype)
                h = act(cpu_blas.linear(h, w, b) if numpy else torch.addmm(b, h, w.t()))
            u = h.mul_(a) if u is None else u.mul_(c).add_(h, alpha=a)
            beta, gamma = a + c * beta, c * gamma
        out = mm(u, last.weight.to(x.dtype).t()) if u is not None else torch.zeros_like(x)
        return out.add_(last.bias.to(x.dtype), alpha=beta).add_(x, alpha=gamma)

    def train(self, mode: bool = True):
        if mode:  # training will change the weights: `_folded` works them out again
            self._fold_key = None
        return super().train(mode)

    def _folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(W_in W_out, W_in b_out) for `reverse`, in float64 then rounded; kept while the
        model stays in eval mode and its weights are not written (load_state_dict and other
        in-place writes count in each tensor's _version; fused optimizer steps do not, but
        they run in training mode, which drops what is kept)."""
        first, last = self.encoder[0], self.decoder[-1]
        key = tuple((id(t), t.data_ptr(), t._version) for t in (first.weight, last.weight, last.bias))
        with _FOLD_LOCK:  # evaluation batches run side by side: one of them works it out
            if self._fold_key != key:
                wide = torch.float64 if first.weight.device.type != "mps" else torch.float32  # MPS has no float64
                fold = torch.zeros((first.out_features, last.in_features), dtype=wide, device=first.weight.device)
                p = torch.zeros(first.out_features, dtype=wide, device=first.weight.device)
                chunk = max(1, FOLD_CHUNK // max(fold.shape))  # items at a time: wide copies stay small
                for lo in range(0, self.n_items, chunk):
                    w_in = first.weight[:, lo:min(lo + chunk, self.n_items)].to(wide)
                    fold.addmm_(w_in, last.weight[lo:lo + chunk].to(wide))
                    p.addmv_(w_in, last.bias[lo:lo + chunk].to(wide))
                self._fold = fold.to(first.weight.dtype), p.to(first.weight.dtype)
                self._fold_key = key
            return self._fold


_FOLD_LOCK = threading.Lock()
FOLD_CHUNK = 1 << 22  # elements of each float64 copy of a weight slice `_folded` makes (32 MB)


def autocast_on(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4
        return torch.is_autocast_enabled() or torch.is_autocast_cpu_enabled()


_IN_PLACE = {nn.Tanh: torch.tanh_, nn.ReLU: torch.relu_, nn.Sigmoid: torch.sigmoid_}


def _act_(act: nn.Module, h: torch.Tensor) -> torch.Tensor:
    f = _IN_PLACE.get(type(act))
    return f(h) if f is not None else act(h)


def _tanh_(h: torch.Tensor) -> torch.Tensor:
    """tanh in place as 2 sigmoid(2h) - 1: on CPUs 2.5x faster than torch's tanh (whose
    kernel aims at 1 ulp), within 2e-7 of it (on a GPU, where both are one memory pass,
    torch's one kernel is the faster)."""
    return torch.sigmoid_(h.mul_(2.0)).mul_(2.0).sub_(1.0)


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
