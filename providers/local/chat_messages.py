"""The messages a local runtime's chat template renders for a whole conversation.

Standard library only: the ``onnx`` worker process imports it (see
:mod:`providers.local.onnx_worker`), and so does the parent's context check
(:mod:`playground.context_fit`), so both count the very prompt the model receives.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

# One turn as the worker protocol carries it: (role, text, number of images in it).
TurnSpec = tuple[str, str, int]


def phi3v_messages(system: str | None, turns: Sequence[TurnSpec]) -> list[dict[str, str]]:
    """System, then every turn oldest first; a user turn with images starts with their
    ``<|image_N|>`` tags, numbered across the whole conversation (Phi-3-vision's prompt
    format: the processor matches tag N to the conversation's N-th image)."""
    messages = [{"role": "system", "content": system}] if system else []
    seen = 0
    for role, text, images in turns:
        tags = "".join(f"<|image_{n}|>\n" for n in range(seen + 1, seen + images + 1))
        seen += images
        messages.append({"role": role, "content": tags + text})
    return messages


# Used only when a model folder ships no chat template ("Empty chat template").
PHI3_TEMPLATE = ("{% for m in messages %}{{'<|' + m['role'] + '|>\n' + m['content'] + '<|end|>\n'}}"
                 "{% endfor %}{% if add_generation_prompt %}{{'<|assistant|>\n'}}{% endif %}")


def render_prompt(tokenizer: Any, system: str | None, turns: Sequence[TurnSpec]) -> str:
    """The conversation through an onnxruntime-genai tokenizer's chat template (the
    folder's own; :data:`PHI3_TEMPLATE` when it ships none), ready for the answer."""
    messages = json.dumps(phi3v_messages(system, turns))
    try:
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True)
    except RuntimeError as exc:
        if "Empty chat template" not in str(exc):
            raise
        return tokenizer.apply_chat_template(messages, template_str=PHI3_TEMPLATE,
                                             add_generation_prompt=True)
