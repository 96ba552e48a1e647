"""The Sweep screen (screen.py) and its panels: the space editor and the sweeps list
(setup.py), the status, trials table and scatter (results.py)."""
from diffrec_tui.screens.sweep.screen import SweepScreen

__all__ = ["SweepScreen"]
