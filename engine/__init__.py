"""diffrec-tui engine: data, DiffRec models, training, evaluation and run records (no UI)."""
