"""The work each phase must do, counted from the model's layer sizes: the matrix products
(GEMMs) of a training epoch and of an evaluation, so a benchmark can time exactly these
products and call their sum the phase's floor.

A GEMM (m, k, n) multiplies an (m x k) matrix by a (k x n) one: 2 m k n FLOPs. A linear
layer k -> n over m rows costs, forward, (m, k, n); training adds the weight gradient
(n, m, k) and the input gradient (m, n, k), the latter only where the layer's input
depends on parameters (not for a layer that reads the data, whose input needs none).
Everything else (activations, noise, losses, optimizer steps, top-K) is overhead on top
of the floor. Closed-form models (Pop, ItemKNN, EASE) have no floor here.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from torch import nn

FORWARD, WEIGHT_GRAD, INPUT_GRAD = "fwd", "dW", "dX"


@dataclass(frozen=True)
class Gemm:
    m: int
    k: int
    n: int
    kind: str = FORWARD  # which product of a linear layer it is (its operands' layout)

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n


@dataclass(frozen=True)
class Layer:
    k: int  # inputs
    n: int  # outputs
    reads_data: bool = False  # its input is data (no input gradient in training)


def linears(module: nn.Module, reads_data: bool = False) -> list[Layer]:
    """The module's linear layers in order; the first one reads data if `reads_data`."""
    found = [m for m in module.modules() if isinstance(m, nn.Linear)]
    return [Layer(m.in_features, m.out_features, reads_data and i == 0) for i, m in enumerate(found)]


def denoiser_layers(den, reads_data: bool = True) -> list[Layer]:
    """DiffRec's MLP: the first layer reads x_t and the step embedding (n_items + emb inputs);
    the tiny step-embedding layer (emb x emb) is left out."""
    return [Layer(lin.in_features, lin.out_features, reads_data and i == 0)
            for i, lin in enumerate([*den.encoder, *den.decoder])]


def denoiser_prediction(den, steps: int, folded: bool) -> tuple[list[tuple[Layer, int]], list[Gemm]]:
    """[(layer, passes)] of one batch's reverse process, and the products done once per
    evaluation. Folded (Denoiser.reverse): the items-wide products once per batch (x0 in,
    scores out), each step the inner layers' and (but the first) the fold's (last hidden ->
    first hidden), and the fold itself (first hidden x items x last hidden) once; else
    every layer per step."""
    layers = denoiser_layers(den, reads_data=False)
    if not folded:
        return [(layer, steps) for layer in layers], []
    n, d_first, d_last = den.n_items, layers[0].n, layers[-1].k
    per_batch = [(Layer(n, d_first), 1), (Layer(d_last, d_first), steps - 1),  # the first step's is of zeros
                 *[(x, steps) for x in layers[1:-1]], (Layer(d_last, n), 1)]
    return per_batch, [Gemm(d_first, n, d_last)]


def folds(method) -> bool:
    """Do the method's predictions go through Denoiser.reverse (GaussianDiffusion.folds, and
    no autocast: eval_precision float32)?"""
    cfg, diffusion = getattr(method, "cfg", {}), getattr(method, "diffusion", None)
    den = getattr(method.module, "denoiser", method.module)
    return (diffusion is not None and cfg.get("eval_precision") != "bfloat16"
            and diffusion.folds(den, sampling_noise=bool(cfg.get("sampling_noise"))))


def model_layers(method, folded: bool | None = None) -> tuple[list[Layer], list[tuple[Layer, int]], list[Gemm]] | None:
    """(layers of one training pass, [(layer, passes)] of one batch's prediction, products
    done once per evaluation), or None for a model without a floor here. `folded`: count
    the reverse process folded or step by step (default: as the method runs it)."""
    from engine.models.baselines import MultiVAEModule
    from engine.models.ldiffrec import LDiffRecModule
    from engine.models.denoiser import Denoiser

    mod = method.module
    steps = getattr(getattr(method, "diffusion", None), "steps", 1)
    folded = folds(method) if folded is None else folded
    if isinstance(mod, Denoiser):
        return denoiser_layers(mod), *denoiser_prediction(mod, steps, folded)
    if isinstance(mod, LDiffRecModule):
        ae = mod.autoencoder
        enc = [layer for e in ae.encoders for layer in linears(e, reads_data=True)]
        den = denoiser_layers(mod.denoiser, reads_data=False)  # its input is the encoder's latent
        dec = [layer for d in ae.decoders for layer in linears(d)]
        per_batch, once = denoiser_prediction(mod.denoiser, steps, folded)
        return enc + den + dec, [(x, 1) for x in enc] + per_batch + [(x, 1) for x in dec], once
    if isinstance(mod, MultiVAEModule):
        layers = linears(mod.encoder, reads_data=True) + linears(mod.decoder)
        return layers, [(layer, 1) for layer in layers], []
    return None


def batch_sizes(n_users: int, batch: int) -> Counter:
    """How many batches of each size cover n_users."""
    out = Counter({batch: n_users // batch})
    if n_users % batch:
        out[n_users % batch] += 1
    return +out


def train_gemms(layers: list[Layer], m: int) -> list[Gemm]:
    out = []
    for layer in layers:
        out += [Gemm(m, layer.k, layer.n, FORWARD), Gemm(layer.n, m, layer.k, WEIGHT_GRAD)]
        if not layer.reads_data:
            out.append(Gemm(m, layer.n, layer.k, INPUT_GRAD))
    return out


def phase_gemms(method, n_users: int, train_batch: int, eval_batch: int,
                folded: bool | None = None) -> dict[str, Counter] | None:
    """GEMM -> count for one training epoch ('train') and one evaluation ('eval'; `folded`
    as model_layers has it)."""
    found = model_layers(method, folded)
    if found is None:
        return None
    train_layers, eval_layers, eval_once = found
    train, evaluation = Counter(), Counter(eval_once)
    for m, batches in batch_sizes(n_users, train_batch).items():
        for g in train_gemms(train_layers, m):
            train[g] += batches
    for m, batches in batch_sizes(n_users, eval_batch).items():
        for layer, passes in eval_layers:
            evaluation[Gemm(m, layer.k, layer.n)] += batches * passes
    return {"train": train, "eval": evaluation}


def total_flops(gemms: Counter) -> int:
    return sum(g.flops * c for g, c in gemms.items())
