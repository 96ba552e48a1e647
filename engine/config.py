"""The config schema: the single source of truth for keys, types, defaults and help.

The CLI (`--set`), the app's editor form, validation and the docs all read `SCHEMA`.
Key names follow RecBole, so a RecBole `DiffRec.yaml` / `LDiffRec.yaml` loads unchanged.
A resolved config is a plain dict holding every key.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .untrusted import read_yaml  # noqa: F401  (config.read_yaml: every config file's reader)

GROUPS = ("Model", "Diffusion", "Training", "Evaluation", "Data")
DIFFUSION_MODELS = ("DiffRec", "LDiffRec")
METRIC_NAMES = ("Recall", "NDCG", "Precision", "MRR", "Hit")

# Upper bounds: far above any sensible run, low enough that a typo (steps: 1000000000) is a
# message, not an 80 GB allocation. Whether a run fits in memory is engine.budget's estimate.
MAX_WIDTH = 65_536  # a hidden layer's size
MAX_STEPS = 10_000  # diffusion steps (the paper uses up to 1000)
MAX_BATCH = 1_000_000  # users in one batch
MAX_COUNT = 1_000_000_000  # epochs, evaluations, annealing steps
MAX_TOPK = 100_000
MAX_SYNTHETIC = 10_000_000  # synthetic users or items
MAX_SEED = 2 ** 32 - 1  # what numpy's and torch's seeding accept on every platform


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # bool | int | float | str | choice | int_list | float_list | str_list | mapping
    default: Any
    help: str
    group: str
    choices: tuple = ()
    min: float | None = None
    max: float | None = None
    nullable: bool = False
    models: tuple = ()  # models the key applies to; empty = all
    min_exclusive: bool = field(default=False)
    needs: str | None = None  # a bool key that must be true for this one to have any effect


def _f(name, kind, default, help, group, **kw) -> Field:
    return Field(name, kind, default, help, group, **kw)


_ACTS = ("tanh", "relu", "sigmoid", "leakyrelu", "linear")
_L = ("LDiffRec",)
_D = DIFFUSION_MODELS  # keys of the diffusion models only (baselines register their own)

FIELDS: list[Field] = [
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
       "~3 MB of scores a batch on CPU, 128M scores on GPU)", "Evaluation", min=0, max=MAX_BATCH),
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

SCHEMA: dict[str, Field] = {f.name: f for f in FIELDS}


def register(*fields: Field, models: tuple = ()) -> None:
    """Add keys (e.g. a baseline model's) and, optionally, model names to `model`'s choices."""
    for f in fields:
        SCHEMA[f.name] = f
        FIELDS.append(f)
    if models:
        m = SCHEMA["model"]
        choices = m.choices + tuple(x for x in models if x not in m.choices)
        SCHEMA["model"] = Field(**{**m.__dict__, "choices": choices})
        FIELDS[FIELDS.index(m)] = SCHEMA["model"]


def defaults() -> dict:
    return {f.name: _copy(f.default) for f in FIELDS}


def _copy(v):
    return list(v) if isinstance(v, list) else (dict(v) if isinstance(v, dict) else v)


# ---------------------------------------------------------------- single-field coercion

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
        raise ConfigError(f"config: `{name}` needs a value ({_describe(f)})")
    try:
        out = _COERCE[f.kind](f, value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config: `{name}` = {value!r} is not {_describe(f)}{_reason(exc)}") from None
    _check_range(f, out)
    return out


def _reason(exc: Exception) -> str:
    msg = str(exc)
    return f": {msg}" if msg and not msg.startswith(("invalid literal", "could not convert")) else ""


def _describe(f: Field) -> str:
    if f.kind == "choice":
        return "one of " + ", ".join(f.choices)
    if f.kind == "str_list" and f.choices:
        return "a list of names from " + ", ".join(f.choices)
    return {"bool": "true or false", "int": "an integer", "float": "a number", "str": "a string",
            "int_list": "a list of integers like [200, 600]", "float_list": "a list of numbers",
            "str_list": "a list of names", "mapping": "a mapping"}[f.kind]


def _bool(f, v):
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "false", "yes", "no", "on", "off", "1", "0"):
        return v.strip().lower() in ("true", "yes", "on", "1")
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    raise ValueError("")


def _int(f, v):
    if isinstance(v, bool):
        raise ValueError("")
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError("")
        return int(v)
    if isinstance(v, str):
        v = float(v.strip()) if any(c in v for c in ".eE") else int(v.strip())
        return _int(f, v)
    return int(v)


def _float(f, v):
    if isinstance(v, bool):
        raise ValueError("")
    out = float(v.strip() if isinstance(v, str) else v)  # YAML reads 1e-3 as a string
    if out != out or out in (float("inf"), float("-inf")):
        raise ValueError("must be finite")
    return out


def _choice(f, v):
    s = str(v).strip()
    for c in f.choices:  # case-insensitive, as RecBole users write 'linear' or 'Linear'
        if s.lower() == c.lower():
            return c
    raise ValueError("")


def _as_list(v):
    if isinstance(v, str):
        try:
            v = yaml.safe_load(v) if v.strip() else []  # '[200,600]' from a quoted hyper.test value
        except yaml.YAMLError:
            raise ValueError("") from None
    if isinstance(v, (int, float, str)) and not isinstance(v, bool):
        v = [v]
    if not isinstance(v, (list, tuple)):
        raise ValueError("")
    return list(v)


def _int_list(f, v):
    return [_int(f, x) for x in _as_list(v)]


def _float_list(f, v):
    return [_float(f, x) for x in _as_list(v)]


def _str_list(f, v):
    out = [str(x) for x in _as_list(v)]
    if f.choices:
        out = [_choice(f, x) for x in out]
    return out


def _str(f, v):
    if isinstance(v, (dict, list)):
        raise ValueError("")
    return str(v)


def _mapping(f, v):
    if not isinstance(v, dict):
        raise ValueError("")
    return v


_COERCE = {"bool": _bool, "int": _int, "float": _float, "choice": _choice, "int_list": _int_list,
           "float_list": _float_list, "str_list": _str_list, "str": _str, "mapping": _mapping}


def _check_range(f: Field, v) -> None:
    values = v if isinstance(v, list) else [v]
    if f.kind in ("int_list", "float_list", "int", "float"):
        for x in values:
            if x is None:
                continue
            if f.min is not None and (x < f.min or (f.min_exclusive and x == f.min)):
                op = ">" if f.min_exclusive else ">="
                raise ConfigError(f"config: `{f.name}` = {v} must be {op} {f.min}")
            if f.max is not None and x > f.max:
                raise ConfigError(f"config: `{f.name}` = {v} must be <= {f.max}")


# ---------------------------------------------------------------- whole-config checks

@dataclass(frozen=True)
class Problem:
    key: str
    message: str


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


def parse_metric(name: str) -> tuple[str, int] | None:
    """'Recall@20' -> ('recall', 20); None if malformed."""
    if not isinstance(name, str) or "@" not in name:
        return None
    metric, _, k = name.partition("@")
    return (metric.strip().lower(), int(k)) if k.strip().isdigit() else None


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


# ---------------------------------------------------------------- YAML and --set

def load(path: str | Path, overrides: list[str] | None = None) -> dict:
    """Read a YAML config, apply `key=value` overrides, validate, and make relative data
    paths absolute (relative to the current directory, as RecBole reads them)."""
    return load_with_note(path, overrides)[0]


def load_with_note(path: str | Path, overrides: list[str] | None = None) -> tuple[dict, str | None]:
    """`load`, and its note lines (None if none): the RecBole keys it ignored, and which
    network dims_dnn builds when RecBole's files or an unset layout leave it in doubt."""
    raw = read_yaml(path)
    for item in overrides or []:
        key, value = parse_override(item)
        raw[key] = value
    cfg = absolute_paths(resolve(raw))
    notes = (recbole_keys.note(recbole_keys.ignored_keys(raw)), recbole_keys.layout_note(raw, cfg))
    return cfg, "\n".join(n for n in notes if n) or None


PATH_KEYS = ("data_path", "checkpoint_dir")


def absolute_paths(cfg: dict, base: str | Path | None = None) -> dict:
    out = dict(cfg)
    for key in PATH_KEYS:
        if out.get(key):
            out[key] = str((Path(base or Path.cwd()) / Path(out[key]).expanduser()).resolve())
    if out.get("item_emb") not in (None, "auto", "svd"):
        out["item_emb"] = str((Path(base or Path.cwd()) / Path(out["item_emb"]).expanduser()).resolve())
    return out


def parse_override(item: str) -> tuple[str, Any]:
    """'dims_dnn=[200,600]' -> ('dims_dnn', [200, 600]), typed by the schema (no eval)."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set: `{item}` must look like key=value, e.g. --set steps=40")
    if recbole_keys.is_ignored(key):
        return key, text  # accepted, named in the run's note line, never used
    if key not in SCHEMA:
        raise ConfigError(f"--set: unknown key `{key}`{suggest(key)}")
    f = SCHEMA[key]
    if f.kind in ("str", "choice"):
        value: Any = text
    else:
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            raise ConfigError(f"--set: `{key}` = {text!r} is not {_describe(f)}") from None
    return key, coerce(key, value)


def dump(cfg: dict) -> str:
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None)


def save(cfg: dict, path: str | Path) -> None:
    Path(path).write_text(dump(cfg), encoding="utf-8")


def diff(a: dict, b: dict) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ between two resolved configs."""
    keys = list(dict.fromkeys(list(a) + list(b)))
    return {k: (a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)}


def applies(f: Field, model: str) -> bool:
    return not f.models or model in f.models


# Keys of models defined outside this file register themselves on import (torch-free modules).
from . import baseline_keys  # noqa: E402,F401  (at the end: it calls register above)
from . import recbole_keys  # noqa: E402  (RecBole's own keys: honoured ones register, others are noted)
