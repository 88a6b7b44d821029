"""Images attached with the compact "Attach images" button, shown as thumbnails.

Plain functions; ``layout`` wires them. The thumbnails (a ``gr.Gallery``) hold the
attached files and are Compare's image input; the images themselves are checked when
Compare builds the request (``handlers.build_request``), as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradio as gr

from playground.validate import MAX_IMAGES
from providers.base import ImageInput
from providers.errors import ProviderError
from providers.images import load_image


def image_paths(items: Sequence[Any] | None) -> list[str]:
    """File paths from the thumbnails' value (``(path, caption)`` pairs) or from an API
    client's plain list of paths."""
    paths = []
    for item in items or ():
        path = item[0] if isinstance(item, (tuple, list)) else item
        paths.append(str(path))
    return paths


def load_images(paths: Sequence[str], problems: list[str]) -> tuple[ImageInput, ...]:
    """The images at ``paths``; each one that cannot be read adds its message to
    ``problems`` (so a form can name every problem at once) and is left out."""
    images = []
    for path in paths:
        try:
            images.append(load_image(path))
        except ProviderError as exc:
            problems.append(exc.message)
    return tuple(images)


def add_images(current: Sequence[Any] | None,
               uploaded: Sequence[str] | str | None) -> list[Any]:
    """Append the uploaded files to the thumbnails (at most ``MAX_IMAGES``); returns
    updates for [thumbnails, their row]."""
    new = [uploaded] if isinstance(uploaded, str) else list(uploaded or [])
    paths = list(dict.fromkeys([*image_paths(current), *new]))
    if len(paths) > MAX_IMAGES:
        gr.Warning(f"At most {MAX_IMAGES} images; the first {MAX_IMAGES} are kept.")
        paths = paths[:MAX_IMAGES]
    return [gr.update(value=paths or None), gr.update(visible=bool(paths))]


def clear_images() -> list[Any]:
    """Remove every attached image; returns updates for [thumbnails, their row]."""
    return [gr.update(value=None), gr.update(visible=False)]
