"""The Inspect screen."""
from diffrec_tui.screens.inspect.screen import InspectScreen

__all__ = ["InspectScreen"]
