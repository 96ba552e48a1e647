"""What the Inspect screen's view panels draw: one snapshot of the shown user, made anew on
every change and handed to each panel's reactive `shown`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

LOG_X_ITEMS = 150  # above this many items the chart's x axis starts in log scale


@dataclass(eq=False)  # compared by identity: every snapshot is news to the panels
class Shown:
    insp: Any = None  # engine.inspect.Inspector of the run, once loaded
    view: Any = None  # the user's own UserView (unedited)
    whatif: Any = None  # the WhatIf of the edits, once re-denoised
    removed: tuple = ()
    added: tuple = ()
    step: int = 0  # 0 = the input, 1..S = after reverse step i (S = the final scores)
    log_x: bool | None = None  # None: by the number of items

    @property
    def current(self):
        """The view on screen: the what-if when there are edits, else the user's own."""
        return self.whatif.after if self.whatif is not None else self.view

    @property
    def ready(self) -> bool:
        return self.insp is not None and self.view is not None

    def vector(self) -> np.ndarray | None:
        """The vector at the current step: 0 = the model's input, S = the final scores."""
        v = self.current
        if v is None:
            return None
        if v.latent:
            return v.scores
        return v.input if self.step == 0 else v.trajectory[self.step - 1]

    def log(self, vec: np.ndarray) -> bool:
        return self.log_x if self.log_x is not None else len(vec) > LOG_X_ITEMS
