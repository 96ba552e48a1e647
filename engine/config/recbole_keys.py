"""RecBole's own keys (no torch, no numpy): the ones with a meaning here become schema fields
(engine.config.schema assembles them), the ones without one are accepted and named in one note line, and
RecBole's value syntaxes (intervals such as `[5,inf)`, `eval_args`) are parsed here.

engine.config.schema imports this module, so RecBole's `overall.yaml`, model files and dataset
properties load unchanged in the CLI, the app's form and the worker alike.
"""
from __future__ import annotations

import re

from engine.config.dims import sizes_text
from engine.config.fields import DIFFUSION_MODELS, Field, Problem

_T, _E, _D = "Training", "Evaluation", "Data"
LEARNERS = ("adam", "adamw", "sgd", "adagrad", "rmsprop")
LEAVE_ONE_OUT = ("off", "valid_and_test", "valid_only", "test_only")

FIELDS = [
    Field("learner", "choice", "adamw", "Optimizer (RecBole's learner; AdamW as in the DiffRec paper)", _T,
          choices=LEARNERS),
    Field("clip_grad_norm", "mapping", None, "Clip the gradient norm each batch: {max_norm: 5, norm_type: 2} "
          "(torch's clip_grad_norm_ arguments, as RecBole); empty = no clipping", _T, nullable=True),
    Field("enable_amp", "bool", False, "Mixed precision training (autocast: float16 on CUDA, bfloat16 on CPU)", _T),
    Field("enable_scaler", "bool", False, "Gradient scaling with enable_amp (CUDA only, as RecBole)", _T),
    Field("use_gpu", "bool", True, "With device auto: false trains on the CPU (RecBole's switch)", _T),
    Field("gpu_id", "str", "0", "With device auto or cuda: which GPU (RecBole's gpu_id; the first of a list; "
          "empty = no GPU)", _T),
    Field("reproducibility", "bool", True, "Deterministic cuDNN kernels (false: cuDNN benchmark mode, faster)", _T),
    Field("shuffle", "bool", True, "Shuffle the users before each epoch", _T),
    Field("checkpoint_dir", "str", None, "Runs directory when --runs-dir is not given (RecBole saves its "
          "checkpoints there); empty = $DIFFREC_RUNS_DIR or ./runs", _T, nullable=True),
    Field("show_progress", "bool", True, "Headless in a terminal: the live progress display (false: plain lines)", _T),
    Field("valid_metric_bigger", "bool", True, "A bigger valid_metric is better (picks the checkpoint, drives "
          "early stopping and the best trial)", _E),
    Field("USER_ID_FIELD", "str", None, "User column of the .inter/.csv file (empty = user_id, user, userid or uid)",
          _D, nullable=True),
    Field("ITEM_ID_FIELD", "str", None, "Item column (empty = item_id, item, itemid, movieid or iid)", _D,
          nullable=True),
    Field("RATING_FIELD", "str", None, "Rating column (empty = rating or score)", _D, nullable=True),
    Field("TIME_FIELD", "str", None, "Timestamp column (empty = timestamp, time or ts)", _D, nullable=True),
    Field("field_separator", "str", None, "Column separator, one character (empty = tab for atomic files, "
          "detected for CSV)", _D, nullable=True),
    Field("load_col", "mapping", None, "Columns to read per file suffix, e.g. {inter: [user_id, item_id, rating, "
          "timestamp]} (empty = all)", _D, nullable=True),
    Field("unload_col", "mapping", None, "Columns not to read per file suffix, e.g. {inter: [rating]}", _D,
          nullable=True),
    Field("rm_dup_inter", "str", None, "Repeated user-item pairs: first or last keeps the first or last by time "
          "(empty = the first in file order)", _D, nullable=True),
    Field("val_interval", "mapping", None, "Keep interactions whose field value lies in an interval, e.g. "
          "{rating: '[4,inf)'} (a list of tokens for token fields)", _D, nullable=True),
    Field("user_inter_num_interval", "str", None, "Keep users whose interaction count lies in this interval, e.g. "
          "'[5,inf)' (repeated with the item filter until both hold, as RecBole)", _D, nullable=True),
    Field("item_inter_num_interval", "str", None, "Keep items whose interaction count lies in this interval", _D,
          nullable=True),
    Field("benchmark_filename", "str_list", None, "Pre-split files <dataset>.<name>.inter for train, valid, "
          "test, e.g. [train, valid, test] (no filtering, as RecBole)", _D, nullable=True),
    Field("leave_one_out", "choice", "off", "Hold out each user's last item(s) instead of split ratios "
          "(RecBole's eval_args split LS)", _D, choices=LEAVE_ONE_OUT),
]

# RecBole keys with no meaning for these models: accepted, never silently (one note line).
_SEQ = "sequential models"
_KG = "knowledge-graph models"
_FEAT = "user/item feature columns (these models use the interactions only)"
IGNORED: dict[str, str] = {
    "worker": "data-loader processes", "state": "RecBole's logging level",
    "save_dataset": "RecBole's dataset cache", "dataset_save_path": "RecBole's dataset cache",
    "save_dataloaders": "RecBole's dataloader cache", "dataloaders_save_path": "RecBole's dataloader cache",
    "log_wandb": "Weights & Biases (see --export-tensorboard)", "wandb_project": "Weights & Biases",
    "train_neg_sample_args": "negative sampling (these models train on whole interaction rows)",
    "loss_decimal_place": "RecBole's log formatting",
    "metric_decimal_place": "RecBole's log formatting (`stopping_rule: recbole` rounds to its default, 4 places)",
    "require_pow": "EmbLoss of embedding models", "transform": f"batch transforms of {_SEQ}",
    "repeatable": f"repeatable recommendation of {_SEQ}",
    "seq_separator": _SEQ, "seq_len": _SEQ, "ITEM_LIST_LENGTH_FIELD": _SEQ, "LIST_SUFFIX": _SEQ,
    "MAX_ITEM_LIST_LENGTH": _SEQ, "POSITION_FIELD": _SEQ,
    "LABEL_FIELD": "labels of point-wise models", "threshold": "labels of point-wise models",
    "NEG_PREFIX": "negative sampling",
    "HEAD_ENTITY_ID_FIELD": _KG, "TAIL_ENTITY_ID_FIELD": _KG, "RELATION_ID_FIELD": _KG, "ENTITY_ID_FIELD": _KG,
    "kg_reverse_r": _KG, "entity_kg_num_interval": _KG, "relation_kg_num_interval": _KG,
    "numerical_features": _FEAT, "unused_col": _FEAT, "additional_feat_suffix": _FEAT,
    "alias_of_user_id": _FEAT, "alias_of_item_id": _FEAT, "alias_of_entity_id": _KG,
    "alias_of_relation_id": _KG, "preload_weight": _FEAT, "normalize_field": _FEAT, "normalize_all": _FEAT,
    "discretization": _FEAT, "filter_inter_by_user_or_item": _FEAT,
}

# What each honoured RecBole key does here (docs/config.md prints this table).
MAPPED: dict[str, str] = {
    "gpu_id": "the GPU that `device: auto` (or `cuda`) uses; empty = the CPU",
    "use_gpu": "false makes `device: auto` the CPU; true = a GPU when there is one, else the CPU",
    "seed": "as in RecBole", "reproducibility": "cuDNN deterministic (true) or benchmark mode",
    "data_path": "with `dataset`, RecBole's layout `<data_path>/<dataset>/<dataset>.inter`",
    "dataset": "the data set's name (and file stem in RecBole's layout)",
    "dims_dnn": "read as `dims_dnn_layout` says: RecBole's files get RecBole's `[n] + dims_dnn + [n]`",
    "checkpoint_dir": "the runs directory when `--runs-dir` is not given",
    "show_progress": "the headless live display in a terminal",
    "shuffle": "the user order of each epoch", "epochs": "as in RecBole",
    "train_batch_size": "counted in users (the DiffRec authors' batches; RecBole's "
                        "DiffRec batches interactions)",
    "learner": "the optimizer (the default here is AdamW, as in the DiffRec paper)",
    "learning_rate": "as in RecBole", "weight_decay": "as in RecBole",
    "eval_step": "as in RecBole",
    "stopping_step": "evaluations without a better valid_metric; RecBole stops after one more "
                     "(`stopping_rule: recbole` does so, with its rounding and ties)",
    "clip_grad_norm": "torch's clip_grad_norm_ each batch",
    "enable_amp": "autocast in training", "enable_scaler": "GradScaler (CUDA)",
    "eval_args": "split RS -> `split`, LS -> `leave_one_out`, order -> `order`; group_by user and "
                 "mode full only; with it, `split_rule: recbole` unless set",
    "metrics": "as in RecBole (Recall, NDCG, Precision, MRR, Hit)", "topk": "as in RecBole (an int or a list)",
    "valid_metric": "as in RecBole; progress lines, the final table and the Train screen's first chart show it",
    "valid_metric_bigger": "used as given (RecBole 1.2.1 derives it from the metric: true for every metric here)",
    "eval_batch_size": "scores (users x items) per batch, as RecBole's full ranking",
    "field_separator": "as in RecBole", "USER_ID_FIELD": "as in RecBole", "ITEM_ID_FIELD": "as in RecBole",
    "RATING_FIELD": "as in RecBole", "TIME_FIELD": "the order of TO splits and T-DiffRec weights",
    "load_col": "as in RecBole (the `inter` entry)", "unload_col": "as in RecBole (the `inter` entry)",
    "rm_dup_inter": "as in RecBole", "val_interval": "as in RecBole (columns of the .inter file)",
    "user_inter_num_interval": "as in RecBole", "item_inter_num_interval": "as in RecBole",
    "benchmark_filename": "pre-split train/valid/test files",
}


def is_ignored(key: str) -> bool:
    return key in IGNORED  # (no schema key is among them: a test checks)


def ignored_keys(raw: dict) -> list[str]:
    """The keys of a raw config that RecBole knows but that have no meaning here."""
    return [k for k in raw if is_ignored(k)]


def note(keys: list[str]) -> str | None:
    """The one note line naming ignored keys (None when there are none)."""
    if not keys:
        return None
    return (f"note: {len(keys)} RecBole key{'s' * (len(keys) != 1)} without a meaning for these models "
            f"{'are' if len(keys) != 1 else 'is'} ignored: {', '.join(keys)} (docs/config.md says why)")


def layout_note(raw: dict, cfg: dict) -> str | None:
    """One note line saying how a config is read where RecBole and the DiffRec authors
    differ: for a config from RecBole's files, RecBole's split rule and network; for any
    other multi-layer dims_dnn whose layout the config does not set, which network it builds."""
    dims, layout = cfg.get("dims_dnn") or [], cfg.get("dims_dnn_layout")
    n = "latent" if cfg.get("model") == "LDiffRec" else "items"
    other = "mirrored" if layout == "recbole" else "recbole"
    built, alt = sizes_text(dims, layout, n), sizes_text(dims, other, n)
    parts = []
    if "split_rule" not in raw and cfg.get("split_rule") == "recbole" and cfg.get("leave_one_out") == "off":
        parts.append("held-out counts by RecBole's rule (split_rule: recbole)")
    diffusion = cfg.get("model") in DIFFUSION_MODELS and "dims_dnn_layout" not in raw
    if diffusion and layout == "recbole":
        parts.append(f"dims_dnn {dims} builds {built} (dims_dnn_layout: recbole; " +
                     ("the same as the DiffRec authors' mirrored layout)" if built == alt else
                      f"the DiffRec authors' mirrored layout would build {alt})"))
    if parts:
        return "note: read as RecBole does: " + "; ".join(parts)
    if diffusion and len(dims) > 1:
        return (f"note: dims_dnn {dims} builds the DiffRec authors' {built} (dims_dnn_layout: mirrored); "
                f"RecBole builds {alt} (set dims_dnn_layout: recbole)")
    return None


# ---------------------------------------------------------------- raw -> raw

def from_recbole(raw: dict) -> bool:
    """Was this config written for RecBole? Only RecBole's files have keys that mean nothing
    here (worker, state, ...) or an eval_args; a bare DiffRec.yaml cannot be told apart."""
    return bool(ignored_keys(raw)) or isinstance(raw.get("eval_args"), dict)


def translate(raw: dict) -> dict:
    """Drop ignored keys and map RecBole's eval_args onto split / order / leave_one_out;
    a config from RecBole's files reads dims_dnn as RecBole does and, with eval_args, splits
    by RecBole's rule (keys given explicitly win). Never raises: bad values are reported by
    `problems`."""
    out = {k: v for k, v in raw.items() if not is_ignored(k)}
    if from_recbole(raw) and "dims_dnn_layout" not in raw:
        out["dims_dnn_layout"] = "recbole"
    ea = raw.get("eval_args")
    if not isinstance(ea, dict):
        return out
    if "split_rule" not in raw:
        out["split_rule"] = "recbole"
    split = ea.get("split")
    if isinstance(split, dict) and len(split) == 1:
        (mode, value), = split.items()
        if mode == "RS" and "split" not in raw:
            out["split"] = value
        if mode == "LS" and "leave_one_out" not in raw and value in LEAVE_ONE_OUT[1:]:
            out["leave_one_out"] = value
        if mode == "RS" and "leave_one_out" not in raw:
            out["leave_one_out"] = "off"
    if "order" in ea and "order" not in raw:
        out["order"] = ea["order"]
    return out


def requested_device(cfg: dict) -> str:
    """The device to ask torch for: `device: auto` honours RecBole's use_gpu and gpu_id."""
    device = str(cfg.get("device", "auto")).lower()
    if device == "auto" and (cfg.get("use_gpu") is False or str(cfg.get("gpu_id", "0")).strip() == ""):
        return "cpu"
    return device


def gpu_index(cfg: dict) -> int | None:
    """The first id of gpu_id ('0', '1,2'), or None when there is none."""
    ids = [s for s in str(cfg.get("gpu_id") or "").split(",") if s.strip()]
    return int(ids[0]) if ids else None


# ---------------------------------------------------------------- intervals

_NUM = r"\s*([-+]?(?:inf|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?))\s*"
_INTERVAL = re.compile(r"^\s*([\[(])" + _NUM + "," + _NUM + r"([\])])\s*$", re.IGNORECASE)


def parse_intervals(text) -> list[tuple[str, float, float, str]]:
    """RecBole's interval syntax: '[5,inf)', '(0,1];[3,4)' (a union) -> endpoint tuples.
    ValueError with the reason when malformed."""
    out = []
    for part in str(text).split(";"):
        m = _INTERVAL.match(part)
        if not m:
            raise ValueError(f"`{part.strip()}` is not an interval like [5,inf) or (0,1]")
        lo, hi = float(m.group(2)), float(m.group(3))
        if lo > hi:
            raise ValueError(f"`{part.strip()}` is empty: its lower end is above its upper end")
        out.append((m.group(1), lo, hi, m.group(4)))
    return out


# ---------------------------------------------------------------- checks

def problems(cfg: dict) -> list[Problem]:
    """Checks of the RecBole keys' values beyond their types."""
    found = []
    for key, check in (("eval_args", _eval_args), ("clip_grad_norm", _clip), ("gpu_id", _gpu_id),
                       ("load_col", _columns), ("unload_col", _columns), ("val_interval", _val_interval),
                       ("user_inter_num_interval", _interval), ("item_inter_num_interval", _interval),
                       ("field_separator", _separator), ("benchmark_filename", _benchmark),
                       ("rm_dup_inter", _keep)):
        if cfg.get(key) is None:
            continue
        why = check(cfg[key])
        if why:
            found.append(Problem(key, f"config: `{key}` {why}"))
    both = [s for s in (cfg.get("load_col") or {}) if s in (cfg.get("unload_col") or {})]
    if both:
        found.append(Problem("unload_col", f"config: `load_col` and `unload_col` both name the `{both[0]}` "
                                           "columns; set one of them (as in RecBole)"))
    return found


_EVAL_KEYS = ("split", "order", "group_by", "mode")


def _eval_args(ea: dict) -> str | None:
    for key in ea:
        if key not in _EVAL_KEYS:
            close = [k for k in _EVAL_KEYS if k[:3] == str(key)[:3]]
            return f"has no `{key}` entry" + (f" (did you mean `{close[0]}`?)" if close else "") + \
                f"; RecBole's eval_args has {', '.join(_EVAL_KEYS)}"
    split = ea.get("split")
    if split is not None:
        why = _eval_split(split)
        if why:
            return why
    group = ea.get("group_by", "user")
    if group != "user":
        return f"group_by `{group}` is not supported: the split here is per user; use group_by: user"
    if ea.get("order", "RO") not in ("RO", "TO"):
        return f"order `{ea['order']}` must be RO (random) or TO (by time)"
    mode = ea.get("mode", "full")
    modes = mode.values() if isinstance(mode, dict) else [mode]
    bad = next((m for m in modes if m != "full"), None)
    if bad is not None:
        return (f"mode `{bad}` is not supported: these models rank all items (mode: full); "
                "sampled (uni100, pop100) and labeled evaluation are not implemented")
    return None


def _eval_split(split) -> str | None:
    if not isinstance(split, dict) or len(split) != 1:
        return "split must be one of {RS: [0.8, 0.1, 0.1]} or {LS: valid_and_test}"
    (mode, value), = split.items()
    if mode == "RS":
        ok = isinstance(value, list) and len(value) == 3 and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0 for x in value)
        return None if ok else f"split RS {value!r} must be three ratios train/valid/test, e.g. [0.8, 0.1, 0.1]"
    if mode == "LS":
        ok = value in LEAVE_ONE_OUT[1:]
        return None if ok else f"split LS `{value}` must be one of {', '.join(LEAVE_ONE_OUT[1:])}"
    if mode == "TS":
        return "split TS (global time split) is not supported; use RS or LS"
    return f"split mode `{mode}` is unknown; use RS (ratios) or LS (leave one out)"


_CLIP_KEYS = ("max_norm", "norm_type", "error_if_nonfinite", "foreach")


def _clip(value: dict) -> str | None:
    extra = [k for k in value if k not in _CLIP_KEYS]
    if extra:
        return f"has no `{extra[0]}` argument; use {', '.join(_CLIP_KEYS)}, e.g. {{max_norm: 5, norm_type: 2}}"
    for key in ("max_norm", "norm_type"):
        v = value.get(key, 2.0)
        try:
            ok = float(v) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok or isinstance(v, bool):
            return f"{key} = {v!r} must be a number > 0 (norm_type may be inf)"
    if "max_norm" not in value:
        return "needs max_norm, e.g. {max_norm: 5, norm_type: 2}"
    return None


def _gpu_id(value: str) -> str | None:
    ok = re.fullmatch(r"\s*(\d+\s*(,\s*\d+\s*)*)?", value)
    return None if ok else f"= {value!r} must be GPU ids like '0' or '0,1' (or empty for the CPU)"


def _columns(value: dict) -> str | None:
    for suffix, cols in value.items():
        if cols == "*":
            continue
        if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
            return f"entry `{suffix}` must be a list of column names, e.g. {{inter: [user_id, item_id]}}"
    return None


def _interval(value: str) -> str | None:
    try:
        parse_intervals(value)
    except ValueError as exc:
        return f"= {value!r}: {exc}"
    return None


def _val_interval(value: dict) -> str | None:
    for field, interval in value.items():
        if isinstance(interval, list):
            continue  # a token field: the tokens to keep
        why = _interval(interval)
        if why:
            return f"entry `{field}` {why}"
    return None


def _separator(value: str) -> str | None:
    return None if len(value) == 1 else f"= {value!r} must be one character, e.g. \"\\t\" or \",\""


def _keep(value: str) -> str | None:
    return None if value in ("first", "last") else f"= {value!r} must be first or last (or empty)"


def _benchmark(value: list) -> str | None:
    if value and len(value) != 3:  # [] (an empty form field) = not set
        return f"= {value} must name three files (train, valid, test), e.g. [train, valid, test]"
    return None


SMALL_EVAL_BATCH = 1 << 17  # scores: under 50 users a batch on a 2,600-item catalogue


def eval_batch_note(cfg: dict) -> str | None:
    """A note for a small eval_batch_size (RecBole's overall.yaml has 4096): it counts scores,
    so a catalogue of thousands of items leaves a few users a batch, and the per-batch work
    then dominates (on ml-100k here one evaluation takes 4 s, 0.1 s with batches by memory)."""
    n = cfg.get("eval_batch_size") or 0
    if 0 < n < SMALL_EVAL_BATCH:
        return (f"note: eval_batch_size {n} counts scores (users x items), as RecBole's full ranking: a few users "
                "a batch on thousands of items, which makes evaluation slow (40x on ml-100k); "
                "eval_batch_size: 0 sizes batches by memory")
    return None


def notes(raw: dict, cfg: dict, valid: bool = True) -> str | None:
    """The note lines of a config file's `raw` keys, read into `cfg` (None if none): the
    RecBole keys it ignores, and, where the config is `valid`, how dims_dnn is read and a
    small eval_batch_size's cost."""
    lines = [note(ignored_keys(raw))]
    if valid:
        lines += [layout_note(raw, cfg), eval_batch_note(cfg)]
    return "\n".join(n for n in lines if n) or None
