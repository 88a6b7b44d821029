"""A transport-level signal: "this request's response headers have arrived".

The engine starts the targets of a comparison one after another and waits, between two,
until the previous target's request has left and the server has answered it with
headers: the SDK's CPU work for one request (building it, writing it, reading the
headers; 1–3 ms) then does not land inside the next target's TTFT. A provider takes
part by passing :data:`EVENT_HOOKS` to its ``httpx`` / ``httpx2`` client; the hook
asks the transport (``httpcore``'s ``trace`` extension) to report the end of
``receive_response_headers`` to whatever callback the engine set for the running
task with :func:`notify_when_answered`. Nothing here reads a clock, and a request
sent outside such a task (a pre-connect, a model list) is left untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any

_on_answered: ContextVar[Callable[[], None] | None] = ContextVar("on_answered", default=None)
# httpcore's trace names are "<http11|http2>.receive_response_headers.<complete|failed>".
_HEADERS_DONE = ("receive_response_headers.complete", "receive_response_headers.failed")


def notify_when_answered(callback: Callable[[], None]) -> None:
    """Call ``callback`` (no arguments) in this context once a request sent from it
    has its response headers, or failed to get them. Set it in the target task's own
    context: tasks copy their context, so each target has its own."""
    _on_answered.set(callback)


def _tracer(callback: Callable[[], None]) -> Callable[[str, dict[str, Any]],
                                                      Coroutine[Any, Any, None]]:
    async def trace(name: str, info: dict[str, Any]) -> None:
        if name.endswith(_HEADERS_DONE):
            callback()
    return trace


async def trace_answer(request: Any) -> None:
    """``httpx`` / ``httpx2`` request event hook: attach the tracer when the engine
    asked for the signal in this context."""
    callback = _on_answered.get()
    if callback is not None:
        request.extensions["trace"] = _tracer(callback)


EVENT_HOOKS: dict[str, list[Callable[..., Any]]] = {"request": [trace_answer]}
