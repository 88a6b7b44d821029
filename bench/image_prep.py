"""Benchmark: one big photo to the NIM vision route (Phi-3-vision, 180,000 base64
characters per image), which must be downscaled. Fitting runs in a worker thread before
the clock starts (``Provider.prepare_request``); this prints what a visitor would see:

* TTFT of each target against a fake that answers at once (goal: tens of ms, not the
  fitting time);
* the event loop's longest stall while the comparison ran, seen by a heartbeat coroutine
  that wakes every 5 ms (standing for every other session's streams);
* the wall time, which does include the fitting (it happens before dispatch).

Usage: python -m bench.image_prep [--targets 6] [--megapixels 39]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import os
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import providers  # noqa: E402
from fake_services.server import FakeServer  # noqa: E402
from fake_services.services import Behaviours, wire_all  # noqa: E402
from playground.engine import Comparison, ProviderPool  # noqa: E402
from providers.base import ChatRequest, ImageInput  # noqa: E402
from providers.settings import Settings  # noqa: E402

VLM = "nim:microsoft/phi-3-vision-128k-instruct"


def photo(megapixels: float) -> ImageInput:
    """A 4:3 JPEG whose top quarter is noise: about the size of a camera photo."""
    width = int(math.sqrt(megapixels * 1e6 * 4 / 3))
    height = int(width * 3 / 4)
    img = Image.new("RGB", (width, height), (90, 120, 160))
    band = height // 4
    img.paste(Image.frombytes("RGB", (width, band), os.urandom(width * band * 3)), (0, 0))
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=80)
    return ImageInput(buffer.getvalue(), "image/jpeg", f"photo-{width}x{height}.jpg")


async def measure(settings: Settings, image: ImageInput, targets: int) -> None:
    beats: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        while not done.is_set():
            beats.append(time.perf_counter())
            await asyncio.sleep(0.005)

    pool = ProviderPool(settings)
    # Warm-up without an image: the SDK client's setup (its TLS context, tens of ms on
    # the loop) happens once per pool, not per comparison, and is not measured here.
    await Comparison(ChatRequest("", "Hello?"), [providers.parse_target(VLM)], pool).run()
    ticking = asyncio.create_task(heartbeat())
    started = time.perf_counter()
    try:
        request = ChatRequest("", "Describe the image.", images=(image,))
        results = await Comparison(request, [providers.parse_target(VLM)] * targets,
                                   pool).run()
    finally:
        wall = time.perf_counter() - started
        done.set()
        await ticking
        await pool.aclose()
    stall = max(b - a for a, b in zip(beats, beats[1:]))
    ttfts = ", ".join(f"{r.ttft_ms:.0f}" for r in results if r.ttft_ms is not None)
    print(f"{targets} target(s): TTFT ms [{ttfts}], longest loop stall {stall * 1000:.0f} ms, "
          f"wall {wall:.2f} s, statuses {sorted({r.status for r in results})}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=6, choices=range(1, 7))
    parser.add_argument("--megapixels", type=float, default=39.0)
    args = parser.parse_args()
    image = photo(args.megapixels)
    print(f"{image.name}: {len(image.data) / 2**20:.1f} MB")
    behaviours = Behaviours()
    behaviours.default.first_s = behaviours.default.interval_s = 0.0
    with FakeServer() as server:
        settings = Settings.load(dotenv_path=None, environ=wire_all(server, behaviours))
        asyncio.run(measure(settings, image, args.targets))


if __name__ == "__main__":
    main()
