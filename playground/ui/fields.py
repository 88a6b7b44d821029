"""Form fields whose values the handlers check themselves.

``gr.Number`` preprocesses before a handler runs: with ``precision=0`` it calls
``int(round(x))``, so NaN or infinity from an API client ends in a bare "Error", and
its ``minimum`` lets NaN through (every comparison with NaN is false). The handlers
check every number with :mod:`playground.validate` (finite, in range, whole where it
must be, a clear message, nothing sent), so :class:`NumberField` hands them the value
as the client sent it.
"""

from __future__ import annotations

from typing import Any

import gradio as gr


class NumberField(gr.Number):
    """A ``gr.Number`` on the page (same widget: ``is_template`` makes Gradio use the
    parent's front-end), whose value reaches the handler unrounded and unchecked."""

    is_template = True

    def preprocess(self, payload: Any) -> Any:
        return payload
