"""The config a headless command runs: a file, then --set and --device."""
from __future__ import annotations

from engine.config import files as config_files


def load_config(path: str, args, show_note: bool = True) -> dict:
    """The resolved config of a file plus --set/--device; prints its note lines (the RecBole
    keys it ignores, how RecBole's files are read)."""
    overrides = list(args.overrides)
    if args.device:
        overrides.append(f"device={args.device}")
    cfg, note = config_files.load_with_note(path, overrides)
    if note and show_note:
        print(note, flush=True)
    return cfg
