"""How NVIDIA's VLM route (Phi-3-vision) reads images: from ``<img`` tags in the string
content of the messages (tests/fixtures/protocol notes; NVIDIA's API reference for the
model: ``Describe this. <img src="data:image/png;base64,..." />``, at most 180,000 base64
characters per image, or ``data:image/png;asset_id,<id>`` for an uploaded asset).

The server looks for the tags in the text of every message. What it does with a ``<img``
that is not a well-formed tag is not documented, so the fake takes the strict reading:
every ``<img`` (any case) must be a readable image tag in a user message, or the request
is refused with 400, as a request whose image cannot be read is. A client that lets a
stray ``<img`` through (a user's HTML, an answer quoting a tag) fails here.
"""

from __future__ import annotations

import base64
import binascii
import re

INLINE_LIMIT = 180_000  # base64 characters per inline image (NVIDIA's reference)
TAG_START = re.compile(r"<img", re.IGNORECASE)
TAG = re.compile(r'<img src="data:image/(?:png|jpeg|jpg);'
                 r'(?:base64,(?P<b64>[A-Za-z0-9+/]+=*)|asset_id,[A-Za-z0-9-]+)" />')


def inline_image_problem(messages: list[dict]) -> str | None:
    """Why the VLM server could not read the image tags of ``messages`` (None when it
    can): a ``<img`` that is not a whole tag, a tag outside a user message, base64 that
    does not decode or is over the inline limit."""
    for number, message in enumerate(messages, 1):
        content = message.get("content")
        if not isinstance(content, str):
            continue  # list content: images travel in image_url parts, text is not parsed
        for start in TAG_START.finditer(content):
            tag = TAG.match(content, start.start())
            where = f"message {number} at character {start.start()}"
            if tag is None:
                return f"{where}: an <img> tag that is not a readable image"
            if message.get("role") != "user":
                return f"{where}: an image tag in a {message.get('role')} message"
            if (b64 := tag.group("b64")) is not None:
                if len(b64) > INLINE_LIMIT:
                    return f"{where}: more than {INLINE_LIMIT} base64 characters inline"
                try:
                    base64.b64decode(b64, validate=True)
                except binascii.Error:
                    return f"{where}: the image's base64 does not decode"
    return None
