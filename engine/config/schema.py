"""The config schema: the single source of truth for keys, types, defaults and help.

The CLI (`--set`), the app's editor form, validation and the docs all read `SCHEMA`.
Key names follow RecBole, so a RecBole `DiffRec.yaml` / `LDiffRec.yaml` loads unchanged.
A resolved config is a plain dict holding every key.
"""
from __future__ import annotations

import difflib
from dataclasses import replace
from typing import Any

from engine.config import coerce as coercion
from engine.config import model_keys, recbole_keys
from engine.config.fields import (DIFFUSION_MODELS, MAX_BATCH, MAX_COUNT, MAX_SEED, MAX_STEPS, MAX_SYNTHETIC,
                                  MAX_TOPK, MAX_WIDTH, METRIC_NAMES, Field, Problem, _f, parse_metric)
from engine.errors import ConfigError

_ACTS = ("tanh", "relu", "sigmoid", "leakyrelu", "linear")
_L = ("LDiffRec",)
_D = DIFFUSION_MODELS  # keys of the diffusion models only (the baselines declare their own)

_CORE: list[Field] = [
    # Model
    _f("model", "choice", "DiffRec", "Model to train", "Model", choices=DIFFUSION_MODELS),
    _f("dims_dnn", "int_list", [300], "Denoiser MLP hidden dims, read as dims_dnn_layout says", "Model", min=1,
       max=MAX_WIDTH, models=_D),
    _f("dims_dnn_layout", "choice", "mirrored", "How dims_dnn builds the denoiser: mirrored (the DiffRec authors: "
       "[200, 600] is n-600-200-600-n) or recbole (RecBole: n-200-600-n)", "Model", choices=("mirrored", "recbole"),
       models=_D),
    _f("embedding_size", "int", 10, "Size of the sinusoidal timestep embedding", "Model", min=1, max=4096, models=_D),
    _f("mlp_act_func", "choice", "tanh", "Activation of the denoiser MLP", "Model", choices=_ACTS, models=_D),
    _f("dropout", "float", 0.5, "Dropout on the denoiser's input vector during training", "Model", min=0, max=0.99, models=_D),
    _f("time-aware", "bool", False, "T-DiffRec: weight training interactions by recency", "Model"),
    _f("w_min", "float", 0.1, "T-DiffRec weight of a user's oldest interaction", "Model", min=0, needs="time-aware"),
    _f("w_max", "float", 1.0, "T-DiffRec weight of a user's newest interaction", "Model", min=0, needs="time-aware"),
    _f("n_cate", "int", 1, "L-DiffRec: number of item clusters, one autoencoder each", "Model", min=1, max=10_000, models=_L),
    _f("reparam", "bool", True, "L-DiffRec: variational (reparameterized) autoencoder", "Model", models=_L),
    _f("in_dims", "int_list", [300], "L-DiffRec: encoder dims from the latent outwards, as RecBole (first = latent size)", "Model", min=1, max=MAX_WIDTH, models=_L),
    _f("out_dims", "int_list", [], "L-DiffRec: decoder hidden dims ([] = one linear map)", "Model", min=1, max=MAX_WIDTH, models=_L),
    _f("ae_act_func", "choice", "tanh", "L-DiffRec: autoencoder activation", "Model", choices=_ACTS, models=_L),
    _f("lamda", "float", 0.03, "L-DiffRec: weight of the autoencoder loss (annealed)", "Model", min=0, models=_L),
    _f("anneal_cap", "float", 0.005, "L-DiffRec: floor of the annealed lamda", "Model", min=0, models=_L),
    _f("anneal_steps", "int", 1000, "L-DiffRec: epochs over which lamda anneals", "Model", min=1, max=MAX_COUNT, models=_L),
    _f("vae_anneal_cap", "float", 0.3, "L-DiffRec: cap of the KL weight", "Model", min=0, models=_L),
    _f("vae_anneal_steps", "int", 200, "L-DiffRec: batches over which the KL weight grows", "Model", min=1, max=MAX_COUNT, models=_L),
    _f("item_emb", "str", "auto", "L-DiffRec clustering embeddings: auto (data folder's item_emb.npy, else SVD), svd, or a .npy path", "Model", models=_L),
    _f("ae_learning_rate", "float", None, "L-DiffRec: autoencoder learning rate (empty = learning_rate)", "Model", min=0, min_exclusive=True, nullable=True, models=_L),
    _f("mlp_learning_rate", "float", None, "L-DiffRec: diffusion MLP learning rate (empty = learning_rate)", "Model", min=0, min_exclusive=True, nullable=True, models=_L),
    # Diffusion
    _f("noise_schedule", "choice", "linear", "Noise schedule of the forward process", "Diffusion", choices=("linear", "linear-var", "cosine", "binomial"), models=_D),
    _f("noise_scale", "float", 0.001, "Scale of the noise (0 = no noise, plain denoising)", "Diffusion", min=0, models=_D),
    _f("noise_min", "float", 0.0005, "Noise lower bound (before scaling)", "Diffusion", min=0, models=_D),
    _f("noise_max", "float", 0.005, "Noise upper bound (before scaling)", "Diffusion", min=0, models=_D),
    _f("sampling_noise", "bool", False, "Add noise at each reverse step during inference", "Diffusion", models=_D),
    _f("sampling_steps", "int", 0, "Forward steps applied to the input before denoising at inference", "Diffusion", min=0, max=MAX_STEPS, models=_D),
    _f("reweight", "bool", True, "Weight the loss per step (SNR difference for x0, the ELBO weight for eps)", "Diffusion", models=_D),
    _f("mean_type", "choice", "x0", "What the denoiser predicts", "Diffusion", choices=("x0", "eps"), models=_D),
    _f("steps", "int", 5, "Number of diffusion steps T", "Diffusion", min=1, max=MAX_STEPS, models=_D),
    _f("history_num_per_term", "int", 10, "Loss-history length per step for importance-sampled training steps", "Diffusion", min=1, max=1000, models=_D),
    _f("beta_fixed", "bool", True, "Fix beta_1 to 1e-5 to keep the first step near-noiseless", "Diffusion", models=_D),
    # Training
    _f("learning_rate", "float", 0.001, "AdamW learning rate", "Training", min=0, min_exclusive=True),
    _f("weight_decay", "float", 0.0, "AdamW weight decay", "Training", min=0),
    _f("train_batch_size", "int", 400, "Users per training batch", "Training", min=1, max=MAX_BATCH),
    _f("epochs", "int", 300, "Maximum number of epochs", "Training", min=1, max=MAX_COUNT),
    _f("eval_step", "int", 5, "Evaluate every N epochs", "Training", min=1, max=MAX_COUNT),
    _f("stopping_step", "int", 4, "Stop after N evaluations without a better valid_metric", "Training", min=1, max=MAX_COUNT),
    _f("stopping_rule", "choice", "exact", "Early stopping: exact (strictly better values) or recbole (rounded to 4 "
       "places, a tie is better, as RecBole)", "Training", choices=("exact", "recbole")),
    _f("seed", "int", 2020, "Random seed (same seed and device give the same metrics)", "Training", min=0, max=MAX_SEED),
    _f("device", "str", "auto", "auto, cpu, cuda, cuda:N or mps", "Training"),
    _f("threads", "int", 0, "Torch CPU threads (0 = all cores)", "Training", min=0, max=1024),
    # Evaluation
    _f("topk", "int_list", [10, 20, 50, 100], "Cut-offs K for the metrics", "Evaluation", min=1, max=MAX_TOPK),
    _f("metrics", "str_list", ["Recall", "NDCG", "Precision", "MRR"], "Metrics to compute", "Evaluation", choices=METRIC_NAMES),
    _f("valid_metric", "str", "Recall@20", "Metric that picks the best model and drives early stopping", "Evaluation"),
    _f("eval_batch_size", "int", 0, "Scores (users x items) per evaluation batch, as RecBole (0 = auto: "
       "~8 MB of scores a batch on CPU, 128M scores on GPU)", "Evaluation", min=0, max=MAX_BATCH),
    _f("eval_precision", "choice", "float32", "Precision of evaluation forward passes", "Evaluation", choices=("float32", "bfloat16")),
    # Data
    _f("dataset", "str", "synthetic", "Dataset name recorded with the run", "Data"),
    _f("data_format", "choice", "auto", "Input format (auto: synthetic without data_path, else told by the files)", "Data",
       choices=("auto", "synthetic", "diffrec_npy", "atomic", "csv")),
    _f("data_path", "str", None, "Split folder (diffrec_npy), .inter file or folder (atomic: RecBole's "
       "<data_path>/<dataset>/<dataset>.inter too), or .csv file", "Data", nullable=True),
    _f("split", "float_list", [0.8, 0.1, 0.1], "Train/valid/test ratios per user (atomic, csv, synthetic)", "Data", min=0),
    _f("order", "choice", "TO", "Split order per user: TO chronological, RO random", "Data", choices=("TO", "RO")),
    _f("split_rule", "choice", "nearest", "Held-out counts per user: nearest (rounded; users under 3 interactions "
       "all in train) or recbole (floored, as RecBole)", "Data", choices=("nearest", "recbole")),
    _f("drop_unseen_targets", "bool", False, "Drop held-out items that training never saw (false: keep them as "
       "targets, as RecBole)", "Data"),
    _f("rating_threshold", "float", None, "Keep interactions with rating >= this (empty = keep all)", "Data", nullable=True),
    _f("eval_args", "mapping", None, "RecBole eval_args (split: {RS: [...]}, order); mapped to split/order", "Data", nullable=True),
    _f("synthetic_users", "int", 3000, "Synthetic data: number of users", "Data", min=2, max=MAX_SYNTHETIC),
    _f("synthetic_items", "int", 1000, "Synthetic data: number of items", "Data", min=2, max=MAX_SYNTHETIC),
    _f("synthetic_interactions", "int", 40, "Synthetic data: mean interactions per user", "Data", min=3, max=100_000),
    _f("synthetic_clusters", "int", 20, "Synthetic data: number of taste clusters", "Data", min=1, max=100_000),
    _f("synthetic_popularity", "float", 1.0, "Synthetic data: Zipf exponent of item popularity", "Data", min=0),
    _f("synthetic_noise", "float", 0.0, "Synthetic data: share of random (noise) interactions", "Data", min=0, max=0.9),
    _f("synthetic_seed", "int", 2023, "Synthetic data: generator seed", "Data", min=0, max=MAX_SEED),
]



def _assemble() -> tuple[Field, ...]:
    """Every key once, built once: the diffusion models' keys above, the baselines' keys (the
    `model` choices gain their names, a shared key its models) and RecBole's honoured keys."""
    core = []
    for f in _CORE:
        if f.name == "model":
            f = replace(f, choices=f.choices + model_keys.MODELS)
        if f.name in model_keys.SHARED:
            models, help = model_keys.SHARED[f.name]
            f = replace(f, models=f.models + models, help=help)
        core.append(f)
    return (*core, *model_keys.FIELDS, *recbole_keys.FIELDS)


FIELDS: tuple[Field, ...] = _assemble()
SCHEMA: dict[str, Field] = {f.name: f for f in FIELDS}


def defaults() -> dict:
    return {f.name: _copy(f.default) for f in FIELDS}


def _copy(v):
    return list(v) if isinstance(v, list) else (dict(v) if isinstance(v, dict) else v)


# ---------------------------------------------------------------- one key, the whole config

def suggest(name: str) -> str:
    close = difflib.get_close_matches(name, [*SCHEMA, *recbole_keys.IGNORED], n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def coerce(name: str, value: Any) -> Any:
    """Return `value` converted to the type of key `name`; ConfigError if it cannot be."""
    if not isinstance(name, str):
        raise ConfigError(f"config: key {name!r} is not a name; keys look like `steps` or `dims_dnn`")
    f = SCHEMA.get(name)
    if f is None:
        raise ConfigError(f"config: unknown key `{name}`{suggest(name)}")
    # An empty or "none" text is no value; whitespace is one (a tab field_separator).
    if value is None or (isinstance(value, str) and (value == "" or value.strip().lower() in ("none", "null"))
                         and f.nullable):
        if f.nullable:
            return None
        raise ConfigError(f"config: `{name}` needs a value ({coercion.describe(f)})")
    try:
        return coercion.value(f, value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config: `{name}` = {value!r} is not {coercion.describe(f)}{coercion.reason(exc)}") from None



def problems(raw: dict) -> list[Problem]:
    """Every problem in a (partial) config: unknown keys, bad values, cross-field rules."""
    found: list[Problem] = []
    cfg = defaults()
    for key, value in recbole_keys.translate(raw).items():
        try:
            cfg[key] = coerce(key, value)
        except ConfigError as exc:
            found.append(Problem(key, str(exc)))
    bad = {p.key for p in found}
    found += [p for p in cross_field_problems(cfg) if p.key not in bad]
    return found


def cross_field_problems(cfg: dict) -> list[Problem]:
    out = []

    def need(ok: bool, key: str, msg: str):
        if not ok:
            out.append(Problem(key, f"config: {msg}"))

    need(cfg["noise_min"] < cfg["noise_max"], "noise_min",
         f"noise_min ({cfg['noise_min']}) must be < noise_max ({cfg['noise_max']}): lower noise_min or raise noise_max")
    need(cfg["noise_scale"] * cfg["noise_max"] < 1, "noise_scale",
         f"noise_scale x noise_max ({cfg['noise_scale'] * cfg['noise_max']:g}) must be < 1: lower noise_scale")
    need(cfg["sampling_steps"] <= cfg["steps"], "sampling_steps",
         f"sampling_steps ({cfg['sampling_steps']}) must be <= steps ({cfg['steps']})")
    need(cfg["w_min"] <= cfg["w_max"], "w_min", f"w_min ({cfg['w_min']}) must be <= w_max ({cfg['w_max']})")
    need(len(cfg["dims_dnn"]) >= 1, "dims_dnn", "dims_dnn needs at least one hidden size, e.g. [300]")
    need(len(cfg["in_dims"]) >= 1, "in_dims", "in_dims needs at least one size, e.g. [300]")
    need(len(cfg["topk"]) >= 1, "topk", "topk needs at least one cut-off, e.g. [10, 20]")
    need(len(cfg["metrics"]) >= 1, "metrics", "metrics needs at least one metric, e.g. [Recall, NDCG]")
    split = cfg["split"]
    need(len(split) == 3 and sum(split) > 0 and split[0] > 0, "split",
         f"split {split} must be three ratios train/valid/test with train > 0, e.g. [0.8, 0.1, 0.1]")
    vm = parse_metric(cfg["valid_metric"])
    computed = {(m.lower(), k) for m in cfg["metrics"] for k in cfg["topk"]}
    if cfg["topk"] and cfg["metrics"]:  # else the two rules above already said what to fix
        need(vm is not None and vm in computed, "valid_metric",
             f"valid_metric `{cfg['valid_metric']}` is not among the computed metrics "
             f"(metrics {cfg['metrics']} x topk {cfg['topk']}); e.g. {cfg['metrics'][0]}@{cfg['topk'][0]}")
    dev = str(cfg["device"]).lower()
    need(dev in ("auto", "cpu", "cuda", "mps") or (dev.startswith("cuda:") and dev[5:].isdigit()), "device",
         f"device `{cfg['device']}` must be auto, cpu, cuda, cuda:N or mps")
    need(cfg["data_format"] in ("synthetic", "auto") or bool(cfg["data_path"]), "data_path",
         f"data_path is required for data_format {cfg['data_format']}: set data_path=PATH")
    return out + recbole_keys.problems(cfg)


def resolve(raw: dict | None = None) -> dict:
    """Defaults + `raw`, fully validated. Raises ConfigError with the first problem."""
    raw = raw or {}
    found = problems(raw)
    if found:  # every problem on the one line: a user fixes them all in one go
        raise ConfigError("; also ".join([found[0].message] + [p.message.removeprefix("config: ") for p in found[1:]]))
    cfg = defaults()
    for key, value in recbole_keys.translate(raw).items():
        cfg[key] = coerce(key, value)
    return cfg


def applies(f: Field, model: str) -> bool:
    return not f.models or model in f.models


