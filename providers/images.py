"""Image checks and fitting, shared by providers, the CLI and the UI (Pillow, which
Gradio already depends on, imported on first use: the ``nim`` provider's module imports
this one, and reading a provider's declaration must not cost Pillow's import)."""

from __future__ import annotations

import io
import math
from pathlib import Path
from types import ModuleType

from providers.base import ImageInput
from providers.errors import UnsupportedInputError

# Refuse decompression bombs well before Pillow's own 179-megapixel error.
MAX_PIXELS = 40_000_000
MAX_FILE_BYTES = 20 * 1024 * 1024

_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif",
         "BMP": "image/bmp"}


def pillow() -> ModuleType:
    """``PIL.Image``, with this module's pixel limit set process-wide (before any image
    is opened here)."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    return Image


def load_image(path: str | Path) -> ImageInput:
    """Read an image file and check that it really is a usable image.

    Raises UnsupportedInputError with the file name and the reason otherwise.
    """
    path = Path(path)
    try:
        if not path.is_file():
            raise UnsupportedInputError(f"Image {path.name[:100]!r} does not exist.")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UnsupportedInputError(
                f"Image {path.name!r} is {path.stat().st_size / 2**20:.1f} MB; the limit is "
                f"{MAX_FILE_BYTES / 2**20:.0f} MB.")
        data = path.read_bytes()
    except OSError as exc:  # permission denied, a name too long...: a message, not a crash
        raise UnsupportedInputError(f"Image {path.name[:100]!r} cannot be read "
                                    f"({exc.strerror or type(exc).__name__}).") from None
    return check_image(data, path.name)


def check_image(data: bytes, name: str = "image") -> ImageInput:
    """Validate image bytes (format, size, integrity) and wrap them."""
    Image = pillow()
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise UnsupportedInputError(
                    f"Image {name!r} is {width}x{height} pixels; the limit is "
                    f"{MAX_PIXELS // 1_000_000} megapixels.")
            img.verify()
    except UnsupportedInputError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own guard, at 2 x MAX_PIXELS
        raise UnsupportedInputError(
            f"Image {name!r} has too many pixels; the limit is "
            f"{MAX_PIXELS // 1_000_000} megapixels ({exc}).") from exc
    except Image.UnidentifiedImageError as exc:
        raise UnsupportedInputError(f"{name!r} is not an image we can read ({exc}).") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnsupportedInputError(f"Image {name!r} is corrupt ({exc}).") from exc
    if fmt not in _MIME:
        raise UnsupportedInputError(f"Image {name!r} is {fmt or 'an unknown format'}; "
                                    f"use one of {', '.join(sorted(_MIME))}.")
    return ImageInput(data=data, mime=_MIME[fmt], name=name)


def base64_chars(data: bytes) -> int:
    """Length of ``data``'s base64 text, without building it (encoding a 20 MB image
    holds the GIL for tens of milliseconds)."""
    return 4 * ((len(data) + 2) // 3)


def fit_base64(image: ImageInput, max_chars: int) -> tuple[ImageInput, str | None]:
    """Return ``image`` unchanged if its base64 text fits ``max_chars``; otherwise a JPEG
    downscaled until it fits, with a note saying what was done."""
    if base64_chars(image.data) <= max_chars:
        return image, None
    Image = pillow()
    with Image.open(io.BytesIO(image.data)) as img:
        rgb = img.convert("RGB")
    original = rgb.size
    # base64 is 4/3 of the bytes; start from the area ratio and shrink until it fits.
    scale = min(1.0, math.sqrt(max_chars * 0.75 / len(image.data)))
    for _ in range(12):
        size = (max(16, int(original[0] * scale)), max(16, int(original[1] * scale)))
        buffer = io.BytesIO()
        rgb.resize(size, Image.Resampling.LANCZOS).save(buffer, "JPEG", quality=85)
        smaller = ImageInput(buffer.getvalue(), "image/jpeg", image.name)
        if base64_chars(smaller.data) <= max_chars:
            note = (f"Image {image.name!r} was downscaled from {original[0]}x{original[1]} "
                    f"to {size[0]}x{size[1]} JPEG to fit the {max_chars:,}-character "
                    "base64 limit of this route.")
            return smaller, note
        scale *= 0.8
    raise UnsupportedInputError(f"Image {image.name!r} cannot be made small enough for "
                                f"this route's {max_chars:,}-character limit.")
