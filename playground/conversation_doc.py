"""The conversation document: a :class:`playground.conversation.Conversation`'s parts to
and from JSON (the format is in that module's docstring). What is read back is checked like any
input: counts bounded, parameters in range, measurements of the type the engine writes,
images as base64; never keys, never a server path.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from typing import Any

from playground.conversation_parts import FORMAT, MAX_TURNS, VERSION, Exchange, Pane, Params
from playground.metrics import TargetResult
from playground.validate import MAX_IMAGES, MAX_PROMPT_CHARS, MAX_TARGETS, InputError
from providers.base import ImageInput


def write(shared: Params, panes: list[Pane]) -> dict[str, Any]:
    """The JSON-able document of a conversation's shared parameters and panes."""
    return {"format": FORMAT, "version": VERSION, "shared": shared.document(),
            "panes": [_pane_document(p) for p in panes]}


def read(data: Any) -> tuple[list[Pane], Params]:
    """A document's panes and shared parameters; InputError naming what is wrong."""
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise InputError([f"Not a conversation document (format {FORMAT!r})."])
    if data.get("version") != VERSION:
        raise InputError([f"Conversation document version {data.get('version')!r} "
                          f"is not supported (this version reads {VERSION})."])
    panes = data.get("panes")
    if not isinstance(panes, list) or not 1 <= len(panes) <= MAX_TARGETS:
        raise InputError([f"A conversation has 1 to {MAX_TARGETS} panes."])
    return [_pane_from(p) for p in panes], Params.from_document(data.get("shared"))


_RESULT_EXTRA = ("notices", "details", "resolved_model")
_NUMBER = (int, float)
# What from_document takes back of a saved result, and the type each must have.
_RESULT_TYPES: dict[str, tuple[type, ...]] = {
    "status": (str,), "error_kind": (str,), "error": (str,), "finish_reason": (str,),
    "tokens_source": (str,), "resolved_model": (str,), "partial": (bool,),
    "prompt_tokens": (int,), "completion_tokens": (int,), "ttft_ms": _NUMBER,
    "total_ms": _NUMBER, "decode_tokens_per_s": _NUMBER, "itl_p50_ms": _NUMBER,
    "itl_p95_ms": _NUMBER, "chars_per_s": _NUMBER, "notices": (list,), "details": (dict,),
}


def _pane_document(pane: Pane) -> dict[str, Any]:
    return {"target": pane.target, "synced": pane.synced,
            "overrides": pane.overrides.document(),
            "turns": [_exchange_document(e) for e in pane.turns]}


def _exchange_document(exchange: Exchange) -> dict[str, Any]:
    result = {k: v for k, v in exchange.result.public().items() if k != "text"}
    result.update({name: getattr(exchange.result, name) for name in _RESULT_EXTRA})
    images = [{"name": i.name, "mime": i.mime, "data": i.base64()} for i in exchange.images]
    return {"turn": exchange.number, "user": {"text": exchange.text, "images": images},
            "params": exchange.params.document(), "answer": exchange.answer,
            "result": result, "in_history": exchange.in_history}


def _pane_from(data: Any) -> Pane:
    if not isinstance(data, Mapping) or not isinstance(data.get("target"), str):
        raise InputError(["Each pane needs a target (PROVIDER:MODEL)."])
    turns = data.get("turns", [])
    if not isinstance(turns, list) or len(turns) > MAX_TURNS:
        raise InputError([f"A pane has at most {MAX_TURNS} turns."])
    pane = Pane(data["target"], synced=bool(data.get("synced", True)),
                overrides=Params.from_document(data.get("overrides", {})))
    pane.turns = [_exchange_from(pane.target, t, n) for n, t in enumerate(turns, 1)]
    return pane


def _exchange_from(target: str, data: Any, number: int) -> Exchange:
    if not isinstance(data, Mapping) or not isinstance(data.get("user"), Mapping):
        raise InputError([f"{target}: turn {number} is not a turn object."])
    user, answer = data["user"], data.get("answer", "")
    text = user.get("text")
    if not isinstance(text, str) or not isinstance(answer, str):
        raise InputError([f"{target}: turn {number} needs text and an answer as text."])
    if len(text) > MAX_PROMPT_CHARS:
        raise InputError([f"{target}: turn {number}'s text is over {MAX_PROMPT_CHARS:,} "
                          "characters."])
    images = user.get("images", [])
    if not isinstance(images, list) or len(images) > MAX_IMAGES:
        raise InputError([f"{target}: turn {number} has more than {MAX_IMAGES} images."])
    shown = data.get("turn")
    if isinstance(shown, int) and not isinstance(shown, bool) and 1 <= shown <= 10 * MAX_TURNS:
        number = shown  # numbers stay as shown after the oldest turns were dropped
    return Exchange(number, text, Params.from_document(data.get("params", {})),
                    _result_from(target, number, data.get("result"), answer),
                    tuple(_image_from(target, number, i) for i in images),
                    dropped=data.get("in_history") is False and bool(answer))


def _result_from(target: str, number: int, saved: Any, answer: str) -> TargetResult:
    """The saved measurements, each of the type the engine writes (numbers finite)."""
    saved = saved if isinstance(saved, Mapping) else {}
    provider, _, model = target.partition(":")
    values: dict[str, Any] = {"target": target, "provider": provider, "model": model}
    for name, kinds in _RESULT_TYPES.items():
        value = saved.get(name)
        if value is None:
            continue
        if isinstance(value, bool) != (kinds == (bool,)) or not isinstance(value, kinds) \
                or (isinstance(value, float) and not math.isfinite(value)):
            raise InputError([f"{target}: turn {number}'s {name} is not valid."])
        values[name] = value
    return TargetResult(**values, turn=number, text=answer)


def _image_from(target: str, number: int, data: Any) -> ImageInput:
    try:
        raw = base64.b64decode(data["data"], validate=True)
        return ImageInput(raw, str(data.get("mime", "image/png")), str(data.get("name", "image")))
    except (TypeError, KeyError, binascii.Error):
        raise InputError([f"{target}: an image of turn {number} is not base64 data."]) \
            from None
