"""Run work after the first frame is on the terminal, so heavy widgets do not delay it."""
from __future__ import annotations

from typing import Any, Callable

from textual.dom import DOMNode

POLL = 0.01


def after_paint(node: DOMNode, callback: Callable[[], Any]) -> None:
    """Call `callback` once a real frame was drawn.

    Textual holds frames while the app starts (a batch update) and meanwhile runs
    after-refresh callbacks without painting. Poll on a timer (a busy re-post would keep
    the start-up from finishing) until updates flow, then wait for the next refresh."""

    def check() -> None:
        if node.app._batch_count:
            node.set_timer(POLL, check)
        else:
            node.call_after_refresh(callback)

    node.set_timer(POLL, check)
