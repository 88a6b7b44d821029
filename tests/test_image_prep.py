"""Image preparation (decode, downscale, re-encode) runs in a worker thread before the
clock starts: a big image to the NIM vision route neither stalls the event loop (other
sessions' streams) nor lands inside the measured TTFT."""

from __future__ import annotations

import asyncio
import io
import os
import time

from PIL import Image

import providers
from fake_services.server import FakeServer
from playground.engine import Comparison, ProviderPool
from providers import nim as nvidia_nim
from providers.base import ChatRequest, ImageInput
from providers.images import fit_base64
from providers.nim import VLM_INLINE_LIMIT

VLM = "nim:microsoft/phi-3-vision-128k-instruct"


def noisy_jpeg(width: int = 6000, height: int = 4000) -> ImageInput:
    """A photo-sized JPEG that does not compress (noise): far over the inline limit."""
    img = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=85)
    return ImageInput(buffer.getvalue(), "image/jpeg", "big.jpg")


def test_big_image_is_fitted_off_the_loop_and_before_the_clock(server: FakeServer, settings,
                                                                behaviours) -> None:
    behaviours.set("microsoft/phi-3-vision-128k-instruct", first_s=0.0, interval_s=0.0)
    image = noisy_jpeg()
    assert len(image.base64()) > VLM_INLINE_LIMIT
    began = time.perf_counter()
    fit_base64(image, VLM_INLINE_LIMIT)  # how long fitting takes here, now (not cached)
    fit_s = time.perf_counter() - began

    async def go() -> tuple[list, list[float]]:
        beats: list[float] = []
        done = asyncio.Event()

        async def heartbeat() -> None:  # another session's work on the same loop
            while not done.is_set():
                beats.append(time.perf_counter())
                await asyncio.sleep(0.005)

        pool = ProviderPool(settings)
        ticking = asyncio.create_task(heartbeat())
        try:
            request = ChatRequest("", "Describe the image.", images=(image,))
            results = await Comparison(request, [providers.parse_target(VLM)], pool).run()
        finally:
            done.set()
            await ticking
            await pool.aclose()
        return results, beats

    (result,), beats = asyncio.run(go())
    assert result.status == "ok", result.error
    assert any("downscaled" in n for n in result.notices), result.notices
    sent = server.requests[-1]
    body = sent.json["messages"][-1]["content"]
    assert 0 < len(body) < VLM_INLINE_LIMIT + 1_000, "the fitted image was sent"
    # The request left right after dispatch: fitting happened before the clock started.
    assert (sent.received_at - result.dispatched_at) < 0.5 * fit_s
    # TTFT is the fake's schedule (first piece at once) plus transport, as measured by
    # the fake's own write times (test_engine.py does the same).
    lead = 1  # the role event comes first
    wrote_first_ms = (sent.sent_at[lead] - result.dispatched_at) * 1000
    assert 0 <= result.ttft_ms - wrote_first_ms < 50
    # The loop kept turning while the image was fitted in a worker thread.
    gaps = [b - a for a, b in zip(beats, beats[1:])]
    assert max(gaps) < 0.5 * fit_s, (max(gaps), fit_s)


def test_a_direct_stream_still_fits_the_image(settings) -> None:
    """Without the engine (a script calling stream()), the route still obeys the limit."""
    from tests.support import collect

    events = collect("nim", settings, ChatRequest("microsoft/phi-3-vision-128k-instruct",
                                                  "Hi", images=(noisy_jpeg(1600, 1200),)))
    assert any("downscaled" in getattr(e, "message", "") for e in events)


def test_six_targets_with_one_photo_fit_it_once(settings, monkeypatch) -> None:
    """One fitting at a time, remembered: the same photo is decoded once, and never two
    decoded photos at once (memory)."""
    calls: list[str] = []

    def counted(image: ImageInput, max_chars: int):
        calls.append(image.name)
        return fit_base64(image, max_chars)

    monkeypatch.setattr(nvidia_nim, "fit_base64", counted)
    request = ChatRequest("", "Describe the image.", images=(noisy_jpeg(1600, 1200),))

    async def go() -> list:
        pool = ProviderPool(settings)
        try:
            return await Comparison(request, [providers.parse_target(VLM)] * 6, pool).run()
        finally:
            await pool.aclose()

    results = asyncio.run(go())
    assert [r.status for r in results] == ["ok"] * 6
    assert all(any("downscaled" in n for n in r.notices) for r in results)
    assert calls == ["big.jpg"]
