"""`diffrec-tui --export-tensorboard RUN_OR_RUNS_DIR LOGDIR`: runs' loss and metric curves as
TensorBoard scalars (then `tensorboard --logdir LOGDIR`). Needs the optional extra
`diffrec-tui[tensorboard]`; torch is imported only here, inside the command."""
from __future__ import annotations

from engine.errors import ExitCode


def main(args) -> int:
    from engine.records.tensorboard import export

    source, logdir = args.export_tensorboard
    done = export(source, logdir)
    for name, n in done:
        print(f"{name}: {n} scalars")
    print(f"export-tensorboard: {len(done)} run{'s' * (len(done) != 1)} written to {logdir} "
          f"(view with: tensorboard --logdir {logdir})")
    return ExitCode.OK
