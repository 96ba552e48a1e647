"""L-DiffRec (and LT-DiffRec with time-aware weights): diffusion in a compressed latent space.

Items are clustered into `n_cate` groups (engine.models.clustering). Each group's slice of the
interaction vector has its own (variational) encoder; the concatenated latents are noised
and denoised by the usual DiffRec MLP; a decoder maps the denoised latent back to item
scores, which are put back in item-id order. Training loss (as the reference code combines
them), with lambda_e annealed over epochs and beta_b over batches:

  reweight true:  lambda_e * diffusion + (recon_NLL + beta_b * KL)
  reweight false: diffusion + lambda_e * (recon_NLL + beta_b * KL)

recon_NLL is the multinomial log-likelihood (Mult-VAE) of the decoded *denoised* latent
against the (possibly time-weighted) interaction vector.

Key semantics follow RecBole: `in_dims` lists the encoder sizes from the latent outwards
(like `dims_dnn`: [300] = one layer to a 300-d latent; [200, 600] = items -> 600 -> 200).
Each layer's width is shared among the clusters in proportion to their sizes (at least
one unit each). `out_dims` [] = one linear map from the whole latent to all items;
otherwise each cluster has its own decoder through its share of `out_dims`.
`ae_act_func` follows every encoder layer, the last included (so it bounds the latent mean
and log-variance, as the reference code and RecBole do), and sits between decoder layers.
`reparam: false` makes a plain autoencoder (no sampling, no KL term).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import ConfigError
from engine.models import clustering, optim
from engine.models.denoiser import ACTIVATIONS, Denoiser
from engine.models.diffusion import DiffusionConfig, GaussianDiffusion
from engine.models.method import Method

AE_DROPOUT = 0.1  # dropout on the encoder's input, as the reference autoencoder


# ---------------------------------------------------------------- annealing schedules

def lamda_at(epoch: int, cfg: dict) -> float:
    """lambda_e: the autoencoder/diffusion balance, decreasing with the epoch count e (from 0)."""
    return max((1.0 - epoch / cfg["anneal_steps"]) * cfg["lamda"], cfg["anneal_cap"])


def kl_weight_at(batch: int, cfg: dict) -> float:
    """beta_b: the KL weight, growing with the batch count b (from 0) up to vae_anneal_cap."""
    return min(cfg["vae_anneal_cap"], batch / cfg["vae_anneal_steps"])


# ---------------------------------------------------------------- the autoencoder

def apportion(total: int, sizes: list[int]) -> list[int]:
    """Split `total` units among clusters in proportion to `sizes`, at least one each
    (largest remainders get the leftover units). Needs total >= len(sizes)."""
    k = len(sizes)
    quota = (total - k) * np.asarray(sizes, dtype=np.float64) / float(sum(sizes))
    share = np.floor(quota).astype(int)
    left = (total - k) - int(share.sum())
    share[np.argsort(-(quota - share), kind="stable")[:left]] += 1
    return (share + 1).tolist()


def _mlp(widths: list[int], act: str, last_act: bool) -> nn.Sequential:
    """Linear layers (Xavier-normal weights, zero biases), the activation after each one
    but the last, and after the last too if `last_act`."""
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        lin = nn.Linear(a, b)
        nn.init.xavier_normal_(lin.weight)
        nn.init.zeros_(lin.bias)
        layers += [lin, ACTIVATIONS[act]()]
    return nn.Sequential(*(layers if last_act else layers[:-1]))


class ClusterAutoencoder(nn.Module):
    """One encoder per item cluster; a shared or per-cluster decoder. Works in cluster order:
    `order` (a buffer, saved with the weights) lists the item ids cluster by cluster."""

    def __init__(self, labels: np.ndarray, in_dims: list[int], out_dims: list[int], act: str = "tanh",
                 reparam: bool = True, dropout: float = AE_DROPOUT):
        super().__init__()
        k = int(labels.max()) + 1
        order, sizes = clustering.cluster_order(labels, k)
        self.register_buffer("order", torch.from_numpy(order))
        self.register_buffer("sizes", torch.tensor(sizes, dtype=torch.long))
        self.cluster_sizes = sizes
        self.reparam = reparam
        enc = [apportion(d, sizes) for d in reversed(in_dims)]  # outermost layer first
        self.latent_dims = enc[-1]
        self.encoders = nn.ModuleList()
        for c, n in enumerate(sizes):
            widths = [n] + [layer[c] for layer in enc]
            widths[-1] *= 2 if reparam else 1  # mean and log-variance
            # The activation also bounds the mean and log-variance, as in the reference code
            # and RecBole (it regularizes: measured +0.006 test Recall@20 at epoch 30 on ml-1m).
            self.encoders.append(_mlp(widths, act, last_act=True))
        self.shared_decoder = not out_dims
        if self.shared_decoder:
            self.decoders = nn.ModuleList([_mlp([sum(self.latent_dims), len(labels)], act, last_act=False)])
        else:
            dec = [apportion(d, sizes) for d in out_dims]
            self.decoders = nn.ModuleList(
                _mlp([self.latent_dims[c]] + [layer[c] for layer in dec] + [n], act, last_act=False)
                for c, n in enumerate(sizes))
        self.drop = nn.Dropout(dropout)

    def to_clusters(self, x: torch.Tensor) -> torch.Tensor:
        """Item-id order -> cluster order."""
        return x.index_select(1, self.order)

    def to_items(self, y: torch.Tensor) -> torch.Tensor:
        """Cluster order -> item-id order."""
        out = torch.empty_like(y)
        out[:, self.order] = y
        return out

    def encode(self, x_cate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(latent, KL) of vectors in cluster order. The latent is sampled when training a
        variational encoder, else it is the mean; KL is 0 for a plain autoencoder."""
        parts = torch.split(self.drop(x_cate), self.cluster_sizes, dim=1)
        hidden = [enc(p) for enc, p in zip(self.encoders, parts)]
        if not self.reparam:
            return torch.cat(hidden, dim=1), x_cate.new_zeros(())
        mu = torch.cat([h[:, :d] for h, d in zip(hidden, self.latent_dims)], dim=1)
        logvar = torch.cat([h[:, d:] for h, d in zip(hidden, self.latent_dims)], dim=1)
        kl = -0.5 * torch.mean(torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1))
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return z, kl

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Item scores in cluster order."""
        if self.shared_decoder:
            return self.decoders[0](z)
        parts = torch.split(z, self.latent_dims, dim=1)
        return torch.cat([dec(p) for dec, p in zip(self.decoders, parts)], dim=1)


class LDiffRecModule(nn.Module):
    """Autoencoder + latent denoiser: one state_dict (weights and cluster assignment)."""

    def __init__(self, labels: np.ndarray, cfg: dict):
        super().__init__()
        self.cfg = cfg
        self.autoencoder = self._autoencoder(labels)
        self.denoiser = Denoiser(cfg["in_dims"][0], cfg["dims_dnn"], cfg["embedding_size"],
                                 cfg["mlp_act_func"], cfg["dropout"], cfg["dims_dnn_layout"])
        self.generation = 0  # bumped when load_state_dict rebuilds the autoencoder

    def _autoencoder(self, labels: np.ndarray) -> ClusterAutoencoder:
        c = self.cfg
        return ClusterAutoencoder(labels, c["in_dims"], c["out_dims"], c["ae_act_func"], c["reparam"])

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """The saved cluster assignment wins: if it differs from the one computed here (e.g.
        another machine's k-means), rebuild the autoencoder to its shapes before loading."""
        order, sizes = state_dict.get("autoencoder.order"), state_dict.get("autoencoder.sizes")
        ae = self.autoencoder
        if order is not None and sizes is not None and (
                not torch.equal(order.cpu(), ae.order.cpu()) or not torch.equal(sizes.cpu(), ae.sizes.cpu())):
            labels = np.empty(len(order), dtype=np.int64)
            labels[order.cpu().numpy()] = np.repeat(np.arange(len(sizes)), sizes.cpu().numpy())
            self.autoencoder = self._autoencoder(labels).to(ae.order.device)
            self.generation += 1
        return super().load_state_dict(state_dict, strict=strict, assign=assign)


# ---------------------------------------------------------------- the method

def check_config(cfg: dict, n_items: int) -> None:
    k = cfg["n_cate"]
    if k > n_items:
        raise ConfigError(f"config: n_cate ({k}) is larger than the number of items ({n_items}); "
                          f"set n_cate to at most {n_items}")
    for key in ("in_dims", "out_dims"):
        if cfg[key] and k > min(cfg[key]):
            raise ConfigError(f"config: n_cate ({k}) is larger than the smallest of {key} {cfg[key]}: each "
                              f"cluster needs at least one unit per layer; lower n_cate or widen {key}")


def cluster_items(cfg: dict, dataset) -> tuple[np.ndarray, str]:
    """Cluster label per item and where the embeddings came from."""
    if cfg["n_cate"] == 1:
        return np.zeros(dataset.n_items, dtype=np.int64), "none"
    emb, source = clustering.item_embeddings(cfg["item_emb"], dataset, dataset.train_matrix(), cfg["seed"])
    return clustering.kmeans(emb, cfg["n_cate"], seed=cfg["seed"]), source


class LDiffRec(Method):
    """L-DiffRec; LT-DiffRec when the training vectors carry time weights (time-aware)."""

    predict_options = frozenset({"trajectory", "generator"})

    def __init__(self, cfg: dict, dataset, device: torch.device, labels: np.ndarray | None = None):
        check_config(cfg, dataset.n_items)
        self.cfg = cfg
        self.emb_source = "given"
        if labels is None:
            labels, self.emb_source = cluster_items(cfg, dataset)
        self.module = LDiffRecModule(labels, cfg).to(device)
        self.diffusion = GaussianDiffusion(DiffusionConfig.of(cfg), device)
        self.batches_per_epoch = max(1, math.ceil(dataset.n_users / cfg["train_batch_size"]))
        self.batches = 0  # updates so far; the epoch count is derived from it
        self._terms: dict = {}
        self._opts: list = []
        self._opts_generation = -1
        self.update = optim.Update(cfg, device)

    @property
    def epoch(self) -> int:
        """Completed epochs (0 during the first), assuming full epochs of batches."""
        return self.batches // self.batches_per_epoch

    def optimizers(self) -> list:
        """The config's learner (AdamW by default) for the autoencoder and for the denoiser,
        each with its own learning rate (rebuilt if loading a checkpoint replaced the autoencoder)."""
        if self._opts_generation != self.module.generation:
            c = self.cfg
            lr_ae = c["ae_learning_rate"] or c["learning_rate"]
            lr_mlp = c["mlp_learning_rate"] or c["learning_rate"]
            self._opts = [optim.make(self.module.autoencoder.parameters(), c, lr_ae),
                          optim.make(self.module.denoiser.parameters(), c, lr_mlp)]
            self._opts_generation = self.module.generation
        return self._opts

    def loss_terms(self, x: torch.Tensor) -> dict:
        """The loss of a batch (in item-id order) and its parts."""
        ae, denoiser, diff = self.module.autoencoder, self.module.denoiser, self.diffusion
        x_cate = ae.to_clusters(x)
        z, kl = ae.encode(x_cate)
        seen = {}

        def net(x_t, t):  # keep the denoiser's input and output to decode its x0 estimate
            seen.update(x_t=x_t, t=t, out=denoiser(x_t, t))
            return seen["out"]

        diffusion_loss = diff.training_loss(net, z)
        x0_hat = seen["out"] if diff.mean_type == "x0" else diff.predict_x0_from_eps(seen["x_t"], seen["t"], seen["out"])
        recon = -(F.log_softmax(ae.decode(x0_hat), dim=1) * x_cate).sum(dim=1).mean()
        lam, beta = lamda_at(self.epoch, self.cfg), kl_weight_at(self.batches, self.cfg)
        ae_loss = recon + beta * kl
        loss = lam * diffusion_loss + ae_loss if self.cfg["reweight"] else diffusion_loss + lam * ae_loss
        return {"loss": loss, "diffusion": diffusion_loss, "recon": recon, "kl": kl, "lamda": lam, "beta": beta}

    def train_batch(self, x: torch.Tensor) -> torch.Tensor:
        self.module.train()
        opts = self.optimizers()
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        with self.update.autocast():
            terms = self.loss_terms(x)
        self.update.step(terms["loss"], opts, self.module.parameters())
        self.batches += 1
        self._terms = {k: v.detach() if torch.is_tensor(v) else v for k, v in terms.items()}
        return self._terms["loss"]

    @property
    def last_terms(self) -> dict:
        """The last batch's loss and its parts, as floats (read from the device when asked)."""
        return {k: float(v) for k, v in self._terms.items()}

    @torch.no_grad()
    def predict(self, x: torch.Tensor, trajectory: list | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Scores over all items (item-id order): encode (posterior mean), denoise in the
        latent space, decode. A `trajectory` list receives each reverse step, decoded."""
        self.module.eval()
        ae = self.module.autoencoder
        z, _ = ae.encode(ae.to_clusters(x))
        latents = [] if trajectory is not None else None
        z0 = self.diffusion.denoise(self.module.denoiser, z, self.cfg["sampling_steps"],
                                    self.cfg["sampling_noise"], latents, generator)
        if trajectory is not None:
            trajectory.extend(ae.to_items(ae.decode(v)) for v in latents)
        return ae.to_items(ae.decode(z0))

    def info(self) -> dict:
        """Facts for the `started` event."""
        ae = self.module.autoencoder
        return {"clusters": list(ae.cluster_sizes), "latent_dims": list(ae.latent_dims),
                "item_emb": self.emb_source}

    def extra_state(self) -> dict:
        return {"diffusion": self.diffusion.state_dict(), "batches": self.batches,
                "last_terms": dict(self.last_terms)}

    def load_extra_state(self, state: dict) -> None:
        if "diffusion" in state:
            self.diffusion.load_state_dict(state["diffusion"])
        self.batches = int(state.get("batches", self.batches))
        self._terms = dict(state.get("last_terms", {}))

