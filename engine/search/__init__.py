"""Hyper-parameter search: RecBole's hyper.test format, the search space and its trials."""
