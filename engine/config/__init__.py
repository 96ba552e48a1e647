"""The config layer: the key schema (fields, coercion, checks), YAML files and `--set`
overrides, RecBole's key names, the docs generator. No torch, no numpy."""
