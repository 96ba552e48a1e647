"""`diffrec-tui --serve [--port N] [CONFIG]`: the app in a browser through textual-serve
(an optional extra: pip install 'diffrec-tui[serve]'). Each browser tab gets its own app
process, started with the same config, --set, --runs-dir and --device as given here. It
listens on localhost: from a remote GPU box, forward the port (ssh -L 8000:localhost:8000)."""
from __future__ import annotations

import shlex
import sys

from engine.errors import InputError

DEFAULT_PORT = 8000


def app_command(args) -> str:
    """The command line textual-serve runs for each browser session (paths already absolute)."""
    cmd = [sys.executable, "-m", "diffrec_tui"]
    if args.config:
        cmd.append(args.config)
    for item in args.overrides:
        cmd += ["--set", item]
    if args.runs_dir:
        cmd += ["--runs-dir", args.runs_dir]
    if args.device:
        cmd += ["--device", args.device]
    return shlex.join(cmd)


def main(args) -> int:
    try:
        from textual_serve.server import Server
    except ImportError:
        raise InputError("diffrec-tui: --serve needs textual-serve: pip install 'diffrec-tui[serve]'") from None
    port = args.port or DEFAULT_PORT
    if not 0 < port < 65536:
        raise InputError(f"diffrec-tui: --port {port} is not a TCP port; give 1-65535, e.g. --port 8000")
    print(f"diffrec-tui: serving the app at http://localhost:{port} (ctrl+c stops)", flush=True)
    Server(app_command(args), port=port, title="diffrec-tui").serve()
    return 0
