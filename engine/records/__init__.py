"""The records layer: run and sweep directories, the only code that knows their file names
and formats (config, events, checkpoints, summary, worker record and log, token maps, sweep
files), their readers for viewers, and the TensorBoard export."""
