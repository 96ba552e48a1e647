"""The run index: what a table row, a run picker or --run's peer summary needs of every run,
read once per change of its files, so a runs folder of thousands of runs lists in well
under a second.

The run directories stay the single source of truth. Each run's facts (status, the config
keys a row shows, epochs, best metrics, dataset fingerprint) are cached with the size and
modification time of the files they came from, and re-read only when those change. The
cache lives in memory (one index per runs root, shared by the process) and, for folders
of INDEX_MIN_RUNS runs or more, in the small file INDEX_FILE in the runs root, so a new
process starts warm; a stale, foreign or damaged index file is ignored and rewritten.
Runs without a final event have their status asked afresh every time (it depends on a
process, not on files). A run whose config or events cannot be read lists as `broken`,
with the reason.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Callable, Iterator

from engine.records.run_facts import ROW_KEYS, _numbers, read_facts, row_config  # noqa: F401  (ROW_KEYS, row_config: the API)
from engine.records.runs import TERMINAL, RunDir, RunInfo, dead_reason, load_run, unended_status

INDEX_FILE = ".diffrec-index.jsonl"
INDEX_VERSION = 1
INDEX_MIN_RUNS = 100  # smaller folders list fast enough without leaving a file behind
FILE_BLOCK = 200  # index file lines parsed at a time
_CONFIG = RunDir("").config_file.name
_STAMPED = [getattr(RunDir(""), f).name for f in ("config_file", "events_file", "summary_file")]  # the facts' sources

Progress = Callable[[int, int], None]


# ---------------------------------------------------------------- where the runs are

def sweep_of(path: Path) -> str | None:
    """The sweep folder's name when `path` is one of its trials, else None."""
    from engine.records.sweeps import SWEEP_FILE
    parent = Path(path).parent
    return parent.name if parent.name.startswith("sweep-") and (parent / SWEEP_FILE).is_file() else None


def run_dirs(root: str | Path, sweeps: bool = True) -> list[Path]:
    """Run directories under `root` (a folder with a config file), and with `sweeps` the
    trials of its sweeps (sweep-*/<run>), newest first by name."""
    return [Path(p) for _, p in _listing(str(root), sweeps)]


def _listing(root: str, sweeps: bool, known=()) -> list[tuple[str, str]]:
    """(key, path) of each run under root: the key is its name, or sweep/name for a trial.
    A folder among `known` keys is not asked again for its config file (the run's stamp
    notices one that went missing)."""
    from engine.records.sweeps import SWEEP_FILE
    out = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    for e in entries:
        if not _is_dir(e):
            continue
        if e.name in known or os.path.isfile(os.path.join(e.path, _CONFIG)):
            out.append((e.name, e.path))
        elif sweeps and e.name.startswith("sweep-") and os.path.isfile(os.path.join(e.path, SWEEP_FILE)):
            out.extend((f"{e.name}/{name}", path) for name, path in _subdirs(e.path)
                       if os.path.isfile(os.path.join(path, _CONFIG)))
    return sorted(out, key=lambda kp: kp[0].rsplit("/", 1)[-1], reverse=True)


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _subdirs(path: str) -> list[tuple[str, str]]:
    try:
        return [(e.name, e.path) for e in os.scandir(path) if _is_dir(e)]
    except OSError:
        return []


def stamp(path: str | Path) -> list:
    """(mtime_ns, size) of each file the facts come from; None for a missing one."""
    out = []
    for name in _STAMPED:
        try:
            st = os.stat(os.path.join(path, name))
            out.append([st.st_mtime_ns, st.st_size])
        except OSError:
            out.append(None)
    return out


# ---------------------------------------------------------------- one indexed run

class IndexedRun:
    """A run as the index knows it: RunInfo's properties (id, status, reason, epochs, best,
    fingerprint, started_at), the config keys a row shows (`keys`), and the full config,
    summary and events read on first use."""

    def __init__(self, path: str | Path, facts: dict, sweep: str | None = None):
        self._where, self.facts, self.sweep = path, facts, sweep
        self._path: Path | None = None
        self._full: RunInfo | None = None

    @property
    def path(self) -> Path:
        if self._path is None:  # made on first use: a listing of thousands makes few
            self._path = Path(self._where)
        return self._path

    @property
    def id(self) -> str:
        return os.path.basename(self._where)

    keys = property(lambda self: self.facts["keys"])
    epochs = property(lambda self: self.facts["epochs"])

    @property
    def best(self) -> tuple[dict, dict]:
        """(valid, test) metrics of the best evaluation (numbers only: an index file is input)."""
        return _numbers(self.facts["valid"]), _numbers(self.facts["test"])
    started_at = property(lambda self: self.facts["started_at"])
    broken = property(lambda self: self.facts["broken"])
    has_checkpoint = property(lambda self: self.facts["checkpoint"])

    @property
    def fingerprint(self) -> str | None:
        return (self.facts["started"] or {}).get("fingerprint")

    @property
    def status(self) -> str:
        """finished | stopped | failed | running | dead, as RunInfo.status, or broken."""
        if self.facts["broken"]:
            return "broken"
        return self.facts["ended"] or unended_status(self.path, self.facts["started"], self.facts["has_events"])

    @property
    def reason(self) -> str:
        status = self.status
        if status == "broken":
            return self.facts["broken"]
        return dead_reason(self.path, self.facts["has_events"]) if status == "dead" else self.facts["reason"]

    def full(self) -> RunInfo:
        """Every file of the run, read once (the overlay chart's evals, a config diff)."""
        if self._full is None:
            self._full = load_run(self.path)
        return self._full

    config = property(lambda self: self.full().config)
    summary = property(lambda self: self.full().summary)
    events = property(lambda self: self.full().events)

    def __repr__(self) -> str:
        return f"IndexedRun({self.id!r}, {self.status})"


# ---------------------------------------------------------------- the index of a runs root

class RunIndex:
    """The runs under one root; `shared(root)` gives the process's one index for it."""

    _shared: dict[Path, "RunIndex"] = {}
    _shared_lock = threading.Lock()

    def __init__(self, root: str | Path, min_runs_for_file: int = INDEX_MIN_RUNS):
        self.root = Path(root).expanduser().resolve()
        self.min_runs_for_file = min_runs_for_file
        self._cache: dict[str, tuple[list, IndexedRun]] = {}
        self._file_read = False
        self._file_lines: list[bytes] = []  # the index file's lines not parsed yet start at _file_pos
        self._file_pos = 0
        self._lock = threading.Lock()
        self.reads = 0  # runs read from their files (not from the cache) since this index was made

    @classmethod
    def shared(cls, root: str | Path) -> "RunIndex":
        key = Path(root).expanduser().resolve()
        with cls._shared_lock:
            if key not in cls._shared:
                cls._shared[key] = cls(key)
            return cls._shared[key]

    @property
    def index_file(self) -> Path:
        return self.root / INDEX_FILE

    def runs(self, sweeps: bool = True, progress: Progress | None = None) -> list[IndexedRun]:
        return list(self.stream(sweeps, progress))

    def stream(self, sweeps: bool = True, progress: Progress | None = None,
               order: Callable[[list[str]], list[str]] | None = None) -> Iterator[IndexedRun]:
        """The runs newest first, each as soon as it is known; `progress(done, total)` after each.
        `order` rearranges the runs' keys (name, or sweep/name for a trial; newest first)
        before any is read, so a caller can have them in the order it shows them."""
        with self._lock:
            self._read_file()
        dirs = _listing(str(self.root), sweeps, known=self._cache)
        if order is not None:
            where = dict(dirs)
            dirs = [(key, where[key]) for key in order(list(where))]
        before, gone = self.reads, []
        for i, (key, path) in enumerate(dirs, 1):
            run = self._get(key, path)
            if progress is not None:
                progress(i, len(dirs))
            yield run
        with self._lock:
            if sweeps:  # a full listing: forget the runs that are gone
                keep = {key for key, _ in dirs}
                gone = [k for k in self._cache if k not in keep]
                for k in gone:
                    del self._cache[k]
            if (self.reads > before or gone) and len(self._cache) >= self.min_runs_for_file:
                self._write_file()

    def get(self, path: str | Path) -> IndexedRun:
        """One run, from the cache while its files are unchanged."""
        path = Path(path)
        return self._get(path.name if path.parent == self.root else f"{path.parent.name}/{path.name}", str(path))

    def _get(self, key: str, path: str) -> IndexedRun:
        now = stamp(path)
        hit = self._cached(key)
        if hit is not None and hit[0] == now:
            return hit[1]
        run = IndexedRun(Path(path), read_facts(Path(path)), sweep_of(Path(path)))
        with self._lock:
            self._cache[key] = (now, run)
            self.reads += 1
        return run

    def peers(self, fingerprint: str, model_wanted: Callable[[object], bool] | None = None) -> Iterator[IndexedRun]:
        """Runs directly under the root on the same data (same fingerprint), newest first.
        A run indexed with another dataset's fingerprint is not looked at again: the first
        `started` event, which holds it, never changes (a resume checks the data). Nor is
        one indexed with a model for which `model_wanted(model)` is False (a caller that
        needs the newest run of each model has the models it found): its config, which
        names the model, is written once, when the run is made."""
        with self._lock:
            self._read_file()
        for key, path in _listing(str(self.root), sweeps=False, known=self._cache):
            hit = self._cached(key)
            if hit is not None and (hit[1].fingerprint not in (None, fingerprint)
                                    or model_wanted is not None and not model_wanted(hit[1].keys.get("model"))):
                continue
            run = self._get(key, path)
            if run.fingerprint == fingerprint:
                yield run

    # ------------------------------------------------------------ the index file

    def _read_file(self) -> None:
        """Open the index file, once; its lines are parsed a block at a time as runs are
        looked up (newest first, as written), so the first rows come before the whole file
        is read, and a thread reading it never holds the interpreter for long. Anything
        unexpected in it is ignored."""
        if self._file_read:
            return
        self._file_read = True
        try:
            lines = self.index_file.read_bytes().split(b"\n")
            header = json.loads(lines[0])
        except (OSError, ValueError):
            return
        if isinstance(header, dict) and header.get("version") == INDEX_VERSION:
            self._file_lines, self._file_pos = lines[1:], 0

    def _cached(self, key: str):
        """The cache's (stamp, run) for key, reading on in the index file while it may hold it."""
        hit = self._cache.get(key)
        if hit is not None or self._file_pos >= len(self._file_lines):
            return hit
        with self._lock:
            while key not in self._cache and self._file_pos < len(self._file_lines):
                self._parse_block()
        return self._cache.get(key)

    def _parse_block(self) -> None:
        """The next FILE_BLOCK lines of the index file into the cache (a run read since wins)."""
        root, start = str(self.root), self._file_pos
        self._file_pos += FILE_BLOCK
        for entry in _entries(self._file_lines[start:self._file_pos]):
            try:
                key, stamp_, facts = entry
            except (ValueError, TypeError):
                continue
            if isinstance(key, str) and isinstance(stamp_, list) and _valid_facts(facts) and key not in self._cache:
                sweep = key.split("/")[0] if "/" in key else None
                self._cache[key] = (stamp_, IndexedRun(os.path.join(root, key), facts, sweep))

    def _write_file(self) -> None:
        """Newest first, as listings look runs up. Best effort: a read-only runs folder just
        lists without one."""
        while self._file_pos < len(self._file_lines):  # keep what this listing did not look up
            self._parse_block()
        entries = sorted(self._cache.items(), key=lambda kv: kv[0].rsplit("/", 1)[-1], reverse=True)
        lines = [json.dumps({"version": INDEX_VERSION, "runs": len(entries)})]
        lines += [json.dumps([k, s, r.facts], separators=(",", ":")) for k, (s, r) in entries]
        tmp = self.root / f"{INDEX_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
            os.replace(tmp, self.index_file)
        except OSError:
            tmp.unlink(missing_ok=True)


def _entries(lines: list[bytes], block: int = 500):
    """The JSON value of each line, parsed a block of lines at a time (one parse per block
    is faster than one per line; a block with a damaged line is parsed line by line)."""
    for i in range(0, len(lines), block):
        part = [line for line in lines[i:i + block] if line.strip()]
        try:
            yield from json.loads(b"[" + b",".join(part) + b"]")
        except ValueError:
            for line in part:
                try:
                    yield json.loads(line)
                except ValueError:
                    continue


_FACT_TYPES = {"broken": (str, type(None)), "ended": (str, type(None)), "reason": str, "keys": dict,
               "epochs": int, "valid": dict, "test": dict, "has_events": bool, "started": (dict, type(None)),
               "started_at": (int, float, type(None)), "checkpoint": bool}


_FACT_KEYS = _FACT_TYPES.keys()
_ENDED = (None, *TERMINAL)


def _valid_facts(facts) -> bool:
    """An index file entry holds exactly what read_facts writes (it is read like user input).
    Asked of every entry of a file of thousands: a plain loop, no sets or generators made."""
    if type(facts) is not dict or facts.keys() != _FACT_KEYS:
        return False
    for k, t in _FACT_TYPES.items():
        if not isinstance(facts[k], t):
            return False
    return facts["ended"] in _ENDED

