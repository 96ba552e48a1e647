"""The Inspect screen."""
from .screen import InspectScreen

__all__ = ["InspectScreen"]
