"""Config keys and data checks of the baseline models (Pop, ItemKNN, EASE, MultiVAE), without torch.

engine.config.schema assembles these with its own keys, so the CLI, the app's form and
validation know the baseline models and their keys without loading torch;
engine.models.baselines holds the models. Key names and defaults are RecBole's
(recbole/properties/model/<Model>.yaml).
"""
from __future__ import annotations

from engine.config.fields import Field
from engine.errors import ConfigError

MODELS = ("Pop", "ItemKNN", "EASE", "MultiVAE")
CLOSED_FORM = ("Pop", "ItemKNN", "EASE")
EASE_DEFAULT_MAX_ITEMS = 20000

_KNN, _EASE, _VAE = ("ItemKNN",), ("EASE",), ("MultiVAE",)

FIELDS = (
    Field("k", "int", 100, "ItemKNN: neighbours kept per item (the most cosine-similar items)", "Model",
          min=1, models=_KNN),
    Field("shrink", "float", 0.0, "ItemKNN: shrinkage added to the cosine denominator (damps rare items)", "Model",
          min=0, models=_KNN),
    Field("reg_weight", "float", 250.0, "EASE: L2 regularisation lambda of the item-item regression", "Model",
          min=0, min_exclusive=True, models=_EASE),
    Field("ease_max_items", "int", EASE_DEFAULT_MAX_ITEMS,
          "EASE: refuse datasets with more items (it inverts a dense items x items matrix)", "Model",
          min=1, models=_EASE),
    Field("mlp_hidden_size", "int_list", [600], "MultiVAE: encoder hidden sizes (the decoder mirrors them)", "Model",
          min=1, models=_VAE),
    Field("latent_dimension", "int", 128,
          "MultiVAE: encoder output size, half mean and half log-variance (latent code = half of it)", "Model",
          min=2, models=_VAE),
    Field("dropout_prob", "float", 0.5, "MultiVAE: dropout on the normalised input vector", "Model",
          min=0, max=0.99, models=_VAE),
    Field("total_anneal_steps", "int", 200000,
          "MultiVAE: batches over which the KL weight grows to anneal_cap (0 = anneal_cap from the start)", "Model",
          min=0, models=_VAE),
)

# `anneal_cap` is L-DiffRec's key (default 0.005); MultiVAE reads the same key as the cap of its
# KL weight. RecBole's MultiVAE default is 0.2: the MultiVAE configs set it explicitly.
ANNEAL_CAP_HELP = ("L-DiffRec: floor of the annealed lamda; MultiVAE: cap of the KL weight "
                   "(RecBole's MultiVAE default is 0.2, set it)")

SHARED = {"anneal_cap": (_VAE, ANNEAL_CAP_HELP)}  # existing keys these models read too: (models, help)


def check(cfg: dict, n_items: int) -> None:
    """Problems a baseline's config has only given the data (torch-free, so `--compare` can
    check every model before it starts any run). Raises ConfigError."""
    if cfg["model"] == "EASE" and n_items > cfg["ease_max_items"]:
        gb = n_items * n_items * 20 / 1e9  # float64 Gram matrix and inverse, float32 weights
        raise ConfigError(f"config: EASE on {n_items} items needs about {gb:.0f} GB (dense items x items), "
                          f"above ease_max_items={cfg['ease_max_items']}; raise ease_max_items or use ItemKNN")
    if cfg["model"] == "MultiVAE" and cfg["latent_dimension"] % 2:
        raise ConfigError(f"config: latent_dimension = {cfg['latent_dimension']} must be even "
                          "(half mean, half log-variance), e.g. 128")

