"""The training layer: the fit loop, the one scoring path (evaluation), metrics, early
stopping, the memory budget, FLOP counts and the sparse-row helpers they share."""
