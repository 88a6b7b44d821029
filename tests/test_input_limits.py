"""Hostile or careless input, through both entry points (web UI handler and CLI): each
gets its own message and nothing is sent."""

from __future__ import annotations

import html
import struct
import zlib
from pathlib import Path

import gradio as gr
import pytest

from fake_services.server import FakeServer
from tests.support import png
from tests.test_cli import playground
from tests.ui_support import form, handlers, run_compare

VISION = "nim:microsoft/phi-3.5-vision-instruct"
TEXT = "nim:microsoft/phi-3.5-mini-instruct"



def bomb_png(width: int, height: int) -> bytes:
    """A tiny file that claims huge dimensions (an image bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def case_input(case: str, tmp: Path) -> tuple[list[str], str, list[str]]:
    """(targets, prompt, image paths) for one bad-input case."""
    def file(name: str, data: bytes) -> list[str]:
        (tmp / name).write_bytes(data)
        return [str(tmp / name)]
    return {
        "whitespace prompt": lambda: ([TEXT], " \n\t ", []),
        "prompt over the maximum": lambda: ([TEXT], "x" * 100_001, []),
        "too many images": lambda: ([VISION], "hi", file("a.png", png()) * 21),
        "non-image file": lambda: ([VISION], "hi", file("notes.png", b"plain text, no pixels")),
        "corrupt image": lambda: ([VISION], "hi", file("cut.png", png(64, 64)[:60])),
        "image bomb": lambda: ([VISION], "hi", file("bomb.png", bomb_png(60_000, 60_000))),
        "oversized file": lambda: ([VISION], "hi", file("big.png", png() + b"\0" * 21 * 2**20)),
        "unknown target syntax": lambda: (["phi3.5"], "hi", []),
        "unknown provider": lambda: (["acme:phi"], "hi", []),
    }[case]()


EXPECTED = {
    "whitespace prompt": "The prompt is empty",
    "prompt over the maximum": "100,001 characters; the limit is 100,000",
    "too many images": "21 images attached; the limit is 20",
    "non-image file": "'notes.png' is not an image",
    "corrupt image": "'cut.png' is corrupt",
    "image bomb": "too many pixels",
    "oversized file": "is 21.0 MB; the limit is 20 MB",
    "unknown target syntax": "'phi3.5' is not PROVIDER:MODEL",
    "unknown provider": "Unknown provider 'acme'",
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_web_ui_refuses(case: str, settings, server: FakeServer, tmp_path) -> None:
    targets, prompt, files = case_input(case, tmp_path)
    with pytest.raises(gr.Error) as caught:
        run_compare(handlers(settings), form(targets, prompt, files=files or None))
    assert EXPECTED[case] in html.unescape(caught.value.message)  # shown as HTML
    assert server.requests == []


@pytest.mark.parametrize("case", ["prompt over the maximum", "corrupt image", "image bomb",
                                  "unknown target syntax", "too many images"])
def test_cli_refuses(case: str, fakes, server: FakeServer, tmp_path) -> None:
    targets, prompt, files = case_input(case, tmp_path)
    args = ["compare", "--prompt", prompt, *[a for t in targets for a in ("--target", t)],
            *[a for f in files for a in ("--image", f)]]
    done = playground(*args, env=fakes, cwd=tmp_path)
    assert done.returncode == 2 and EXPECTED[case] in done.stderr
    assert server.requests == []


def test_configured_prompt_limit(settings, server: FakeServer) -> None:
    from playground.policy import Policy

    runs = handlers(settings, Policy(max_prompt_chars=10))
    with pytest.raises(gr.Error, match="the limit is 10"):
        run_compare(runs, form([TEXT], "eleven char"))
    assert server.requests == []
