"""Where a config's data is and what format it has (pathlib only: no numpy, no torch).

RecBole's layout: `data_path` + `dataset` mean `<data_path>/<dataset>/<dataset>.inter`, with
`.item` and `.user` files beside it (and `<dataset>.<part>.inter` files for
`benchmark_filename`). A plain file, or a folder holding one `.inter` file, works too.
`data_format: auto` tells the format from the files. The CLI and the app call `locate`
before they create a run directory, so a wrong path never leaves a failed run behind.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.errors import DataError, regular_file

NPY_MARKER = "train_list.npy"
TEXT_SUFFIXES = {"csv": (".csv", ".tsv", ".txt", ".dat"), "atomic": (".inter",)}


@dataclass(frozen=True)
class Source:
    format: str  # synthetic | diffrec_npy | atomic | csv
    path: Path | None = None  # the .inter / .csv file, or the npy folder; None for synthetic
    parts: tuple[Path, ...] = ()  # benchmark_filename: the train, valid and test files
    item_path: Path | None = None  # where RecBole's .item file (titles) would be

    @property
    def item_file(self) -> Path | None:
        """The .item file beside the interactions, if there is one."""
        return self.item_path if self.item_path is not None and self.item_path.is_file() else None


def what(fmt: str) -> str:
    return {"diffrec_npy": "folder with train_list.npy, valid_list.npy, test_list.npy",
            "atomic": ".inter file (or a folder holding one, or RecBole's <data_path>/<dataset>/)",
            "csv": ".csv file", "auto": "data file or folder"}[fmt]


def locate(cfg: dict) -> Source:
    """The data files of a resolved config; DataError with a one-line message if absent."""
    fmt = cfg["data_format"]
    if fmt == "synthetic" or (fmt == "auto" and not cfg.get("data_path")):
        return Source("synthetic")
    path = Path(cfg["data_path"]).expanduser().resolve()
    if not path.exists():
        raise DataError(f"data: {path}: not found; set data_path to an existing {what(fmt)}")
    if fmt == "auto":
        fmt = _detect(path)
    src = _atomic(path, cfg) if fmt == "atomic" else Source(fmt, path)
    for f in src.parts or (src.path,):
        check_file(f, src.format)
    return src


def check_file(path: Path, fmt: str) -> None:
    """Refuse, before reading a byte, a path that cannot be this format's data: a device or
    pipe (/dev/zero would be read forever), a text file without the format's suffix (so a
    config or checkpoint naming /etc/passwd reads nothing)."""
    if path.is_dir():
        return
    if not regular_file(path):
        raise DataError(f"data: {path}: not a regular file (a device or pipe?); set data_path to a {what(fmt)}")
    suffixes = TEXT_SUFFIXES.get(fmt)
    if suffixes and path.suffix.lower() not in suffixes:
        raise DataError(f"data: {path}: data_format {fmt} reads {' or '.join(suffixes)} files; "
                        "rename the file or set data_format to match it")


def _detect(path: Path) -> str:
    if path.is_dir():
        return "diffrec_npy" if (path / NPY_MARKER).is_file() else "atomic"
    suffix = path.suffix.lower()
    if suffix in (".inter", ".csv"):
        return "atomic" if suffix == ".inter" else "csv"
    raise DataError(f"data: {path}: cannot tell its format from the name; set data_format to atomic "
                    "(RecBole's .inter files) or csv")


def _atomic(path: Path, cfg: dict) -> Source:
    name = str(cfg.get("dataset") or "")
    parts = cfg.get("benchmark_filename")
    if path.is_file():
        if parts:
            raise DataError(f"data: {path}: benchmark_filename needs data_path to be the folder of "
                            f"{name}.<part>.inter files, not one file")
        return Source("atomic", path, item_path=path.with_suffix(".item"))
    folders = [path / name, path] if name else [path]
    if parts:
        for folder in folders:
            files = tuple(folder / f"{name}.{p}.inter" for p in parts)
            if all(f.is_file() for f in files):
                return Source("atomic", files[0], files, folder / f"{name}.item")
        wanted = ", ".join(f"{name}.{p}.inter" for p in parts)
        raise DataError(f"data: {path}: no {wanted} in {folders[0]} or {path}; check data_path, dataset "
                        "and benchmark_filename")
    for folder in folders:
        f = folder / f"{name}.inter"
        if f.is_file():
            return Source("atomic", f, item_path=f.with_suffix(".item"))
    found = sorted(p for p in path.glob("*.inter") if p.is_file())
    if len(found) == 1:
        return Source("atomic", found[0], item_path=found[0].with_suffix(".item"))
    if found:
        names = ", ".join(p.stem for p in found)
        raise DataError(f"data: {path}: several .inter files ({names}); set dataset to the one to use")
    raise DataError(f"data: {path}: no .inter file here nor {path / name / (name + '.inter')} (RecBole's "
                    "layout <data_path>/<dataset>/<dataset>.inter); set data_path and dataset")
