"""Reading files anyone may have written: config YAML, .npy arrays, delimited text.

Whatever is in them (another encoding, a binary file, a key given twice, a header that
promises more than the file holds, a field of megabytes, a pickle) becomes an InputError
naming the file, the line and the fix, before anything large is allocated.
"""
from __future__ import annotations

import csv
import math
from contextlib import contextmanager
from pathlib import Path

import yaml

from engine.errors import ConfigError, DataError, decode_error, os_errors, os_reason, regular_file

MAX_CONFIG_BYTES = 1 << 20  # a config file larger than 1 MB is not a config file


# ---------------------------------------------------------------- YAML

def finite_number(v) -> bool:
    """A real, finite number (not a bool, NaN or infinity): a metric value read from a file."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def read_yaml(path: str | Path, what: str = "config") -> dict:
    """A YAML mapping from a file that may come from anyone: UTF-8 text of sane size, safe
    tags only, every key once. ConfigError names the file, the line and the fix."""
    p = Path(path)
    return parse_yaml(read_text(p, what), p, what)


def parse_yaml(text: str, p: Path, what: str = "config", fast: bool = False) -> dict:
    """read_yaml's rules for text read from `p`; `fast` parses with libyaml where PyYAML
    has it (about 4x faster: listing thousands of runs)."""
    try:
        data = yaml.load(text, Loader=_FastStrictLoader if fast else _StrictLoader)
    except DuplicateKey as dup:
        raise ConfigError(f"{what}: {p} line {dup.line}: key `{dup.key}` appears twice (first on line "
                          f"{dup.first}); keep one of them") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{what}: {p}{where} is not valid YAML: fix the syntax") from None
    except RecursionError:
        raise ConfigError(f"{what}: {p} is nested too deeply to be a config") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what}: {p} must be a mapping of key: value lines")
    return data


def read_text(p: Path, what: str = "config") -> str:
    """The UTF-8 text of a config-sized regular file, or a ConfigError saying what it is instead."""
    with os_errors(what, p, "check the path and the file's permissions"):
        if p.is_dir():
            raise ConfigError(f"{what}: {p} is a folder, not a YAML file")
        if not p.exists():
            raise ConfigError(f"{what}: file not found: {p}")
        if not regular_file(p):
            raise ConfigError(f"{what}: {p} is not a regular file (a device or pipe?); give a YAML file")
        if p.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{what}: {p} is {p.stat().st_size / 1e6:.1f} MB, too large for a config "
                              f"(at most {MAX_CONFIG_BYTES >> 20} MB); is it the right file?")
        raw = p.read_bytes()
    if b"\x00" in raw:
        raise ConfigError(f"{what}: {p} is a binary file, not a YAML config")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise decode_error(what, p, raw, exc, "save it as UTF-8", ConfigError) from None


class DuplicateKey(yaml.YAMLError):
    def __init__(self, key, line: int, first: int):
        super().__init__(f"duplicate key {key!r}")
        self.key, self.line, self.first = key, line, first


class _StrictKeys:
    """A loader that refuses a key given twice in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise DuplicateKey(key, line, seen[key])
                seen[key] = line
            except TypeError:  # an unhashable key: the constructor's own error says so
                continue
        return super().construct_mapping(node, deep)


class _StrictLoader(_StrictKeys, yaml.SafeLoader):
    """safe_load, every key once."""


class _FastStrictLoader(_StrictKeys, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The same with libyaml's parser (about 4x faster) where PyYAML was built with it."""


# ---------------------------------------------------------------- .npy

def load_npy(file: Path, prefix: str = "data: ", cls: type = DataError):
    """An array from a .npy file anyone may have written: no pickles, a plain ndarray, and a
    header whose shape the file really holds (checked before anything is allocated)."""
    import numpy as np  # here: reading configs (the CLI's start-up) needs no numpy

    def bad(why: str) -> Exception:
        return cls(f"{prefix}{file}: not a readable .npy array ({why}); write it with numpy.save")
    try:
        size = file.stat().st_size
        if size == 0:
            raise bad("empty file")
        with open(file, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(fh)
            if dtype.hasobject:
                raise bad("object array")
            need = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if need > size:
                raise bad(f"its header says shape {shape} but the file holds {size} bytes: truncated")
        a = np.load(file, allow_pickle=False)
    except (ValueError, EOFError, SyntaxError, TypeError, OverflowError) as exc:
        raise bad(exc.__class__.__name__) from None
    except OSError as exc:
        raise bad(os_reason(exc)) from None
    if not isinstance(a, np.ndarray):
        raise bad("an .npz archive, not one array")
    return a


# ---------------------------------------------------------------- delimited text

def shown(header: list[str], n: int = 8, width: int = 24) -> str:
    """A header as a message shows it: a few printable names, each cut short (the file may
    not be a data file at all, and its content is not ours to print)."""
    names = ["".join(c for c in h if c.isprintable())[:width] for h in header[:n]]
    return ", ".join(names) + (f", ... ({len(header)} columns)" if len(header) > n else "")


def csv_rows(reader, file):
    """(line number, row) for the non-empty rows of a csv reader; what a foreign file makes
    the reader raise (a binary file, an unclosed quote, a huge field) becomes a DataError."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"data: {file} line {reader.line_num}: {exc} (an unclosed quote, a binary file, "
                            "or the wrong delimiter?)") from None
        if row:
            yield reader.line_num, row


@contextmanager
def open_text(file: Path):
    """Open a data file as UTF-8 text; a binary file or one in another encoding (UTF-16's NUL
    bytes, latin-1's accents) is a DataError naming the line."""
    with open(file, "rb") as fh:
        head = fh.read(1 << 16)
    if b"\x00" in head:
        line = head.count(b"\n", 0, head.index(b"\x00")) + 1
        raise DataError(f"data: {file} line {line} holds NUL bytes: a binary file, or UTF-16 text "
                        "(convert it to UTF-8)")
    try:
        with open(file, newline="", encoding="utf-8") as fh:
            yield fh
    except UnicodeDecodeError:
        raw = file.read_bytes()
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise decode_error("data", file, raw, exc, "convert it, e.g. iconv -f latin1 -t utf-8 FILE") from None
        raise
