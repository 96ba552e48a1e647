"""Package discovery: every package under engine/ and diffrec_tui/, plus the top-level
configs/ folder shipped as diffrec_tui.configs (pyproject.toml maps its folder)."""
from setuptools import find_packages, setup

setup(packages=find_packages(include=["engine", "engine.*", "diffrec_tui", "diffrec_tui.*"]) + ["diffrec_tui.configs"])
