"""Coercion of one value to its field's type: the only parser of booleans, numbers and lists,
shared by YAML files, `--set`, hyper.test values and the app's form."""
from __future__ import annotations

import yaml

from engine.config.fields import Field
from engine.errors import ConfigError


def value(f: Field, v):
    """`v` converted to field `f`'s kind and checked against its bounds (ValueError, TypeError
    or ConfigError when it is not one)."""
    out = _COERCE[f.kind](f, v)
    check_range(f, out)
    return out


def reason(exc: Exception) -> str:
    msg = str(exc)
    return f": {msg}" if msg and not msg.startswith(("invalid literal", "could not convert")) else ""


def describe(f: Field) -> str:
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


def parse_list(v):
    """The one list reader (YAML files, `--set`, hyper.test, the form): a list, one value, or
    a text: '[200, 600]', or with the brackets left out, '200, 600'."""
    if isinstance(v, str):
        text = v.strip()
        if "," in text and not text.startswith("["):
            text = f"[{text}]"
        try:
            v = yaml.safe_load(text) if text else []  # '[200,600]' from a quoted hyper.test value
        except yaml.YAMLError:
            raise ValueError("") from None
    if isinstance(v, (int, float, str)) and not isinstance(v, bool):
        v = [v]
    if not isinstance(v, (list, tuple)):
        raise ValueError("")
    return list(v)


def _int_list(f, v):
    return [_int(f, x) for x in parse_list(v)]


def _float_list(f, v):
    return [_float(f, x) for x in parse_list(v)]


def _str_list(f, v):
    out = [str(x) for x in parse_list(v)]
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


def check_range(f: Field, v) -> None:
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

