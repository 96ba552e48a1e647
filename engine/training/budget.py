"""Will a run fit in memory? An estimate made before anything big is allocated.

`check(cfg, n_users, n_items)` refuses (ConfigError, exit 2) a run whose model with its
optimizer state, dense training or evaluation batch, or diffusion loss history would not fit
in the memory its device has free, and says which key to lower (engine.data.memory checks
the arrays a loader is about to build, and what memory there is). The figures are
estimates (a few dense copies of a batch, fp32 weights plus AdamW's two moments), meant to
turn an 80 GB typo into a message, not to predict the peak to the byte.

DIFFREC_MEMORY_LIMIT (bytes, or 512M / 8G / 1.5T) replaces the free memory the check compares
against: for a machine shared with others, or a job's allotment. No torch at import.
"""
from __future__ import annotations

from engine.data.memory import available, size_text
from engine.errors import ConfigError

TRAIN_COPIES = 6  # dense batch x items tensors alive in a training step (input, noise, x_t, output, grads)
EVAL_COPIES = 4  # in an evaluation batch (input, the step's output, scores, a masked copy)
ADAMW_BYTES = 16  # per parameter: fp32 weight, gradient and two moments


def check(cfg: dict, n_users: int, n_items: int, training: bool = True, device=None) -> None:
    """ConfigError if the run (or, training=False, an inspection of it) would not fit."""
    parts = estimate(cfg, n_users, n_items, training)
    total = sum(parts.values())
    if device is None:
        from engine.training.trainer import select_device
        device = select_device(cfg["device"])
    free, where = available(device)
    if free is None or total <= free:
        return
    part = max(parts, key=parts.get)
    raise ConfigError(f"config: this run needs ~{size_text(total)} of memory, {size_text(parts[part])} of it for "
                      f"{_WHAT[part]}, but {where} has ~{size_text(free)}: lower {_fix(part, cfg)}")


def estimate(cfg: dict, n_users: int, n_items: int, training: bool = True) -> dict[str, int]:
    """Bytes per part: the model (with optimizer state when training), one dense batch (the
    larger of training and evaluation), the diffusion loss history."""
    from engine.training.evaluation import eval_batch_size
    params = parameters(cfg, n_items)
    closed = cfg["model"] in ("Pop", "ItemKNN", "EASE")
    model = params * (ADAMW_BYTES if training and not closed else 4)
    width = n_items * 4
    train = min(cfg["train_batch_size"], n_users) * width * TRAIN_COPIES if training and not closed else 0
    evaluate = min(eval_batch_size(cfg, n_items), n_users) * width * EVAL_COPIES
    history = cfg["steps"] * cfg["history_num_per_term"] * 16 if cfg["model"] in ("DiffRec", "LDiffRec") else 0
    return {"model": model, "train": train, "eval": evaluate, "history": history}


def parameters(cfg: dict, n_items: int) -> int:
    """About as many parameters as the model will have (exact for DiffRec and MultiVAE)."""
    model = cfg["model"]
    if model == "DiffRec":
        return _denoiser(n_items, cfg["dims_dnn"], cfg["embedding_size"])
    if model == "LDiffRec":
        latent = cfg["in_dims"][0]
        encoder = _mlp([n_items, *reversed(cfg["in_dims"])]) * (2 if cfg["reparam"] else 1)
        return encoder + _mlp([latent, *cfg["out_dims"], n_items]) + _denoiser(latent, cfg["dims_dnn"],
                                                                                 cfg["embedding_size"])
    if model == "MultiVAE":
        hidden, latent = cfg["mlp_hidden_size"], cfg["latent_dimension"]
        return _mlp([n_items, *hidden, latent]) + _mlp([latent // 2, *reversed(hidden), n_items])
    if model == "EASE":
        return n_items * n_items * 5  # float64 Gram matrix and inverse, float32 weights
    if model == "ItemKNN":
        return n_items * min(cfg["k"], n_items) * 3
    return n_items  # Pop, or a model this estimate does not know


def _mlp(widths: list[int]) -> int:
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


def _denoiser(n_in: int, dims: list[int], emb: int) -> int:
    """engine.models.denoiser.Denoiser: n_in+emb -> reversed(dims) -> mirrored back to n_in."""
    widths = [n_in, *reversed(dims)]
    return emb * emb + emb + _mlp([n_in + emb, *widths[1:]]) + _mlp(widths[::-1])


_WHAT = {"model": "the model's weights and optimizer state", "train": "a dense training batch",
         "eval": "a dense evaluation batch", "history": "the diffusion loss history"}


def _fix(part: str, cfg: dict) -> str:
    if part == "model":
        return {"DiffRec": "dims_dnn", "LDiffRec": "in_dims, out_dims or dims_dnn",
                "MultiVAE": "mlp_hidden_size or latent_dimension", "ItemKNN": "k",
                "EASE": "the number of items (or use ItemKNN)"}.get(cfg["model"], "the model's sizes") + \
            " (the data has very many items?)"
    return {"train": "train_batch_size", "eval": "eval_batch_size (0 picks a size that fits)",
            "history": "steps or history_num_per_term"}[part]


# ---------------------------------------------------------------- what there is


