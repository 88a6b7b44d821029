#!/usr/bin/env python
"""Make the scenario packs' inputs: a bar chart, three video key frames, a long document.

Deterministic (fixed data, a seeded generator, Pillow's built-in font, no timestamps in
the PNGs): running it again with the pinned Pillow gives byte-identical files, which
tests/test_scenarios_assets.py checks. Usage: python scenarios/assets/make_assets.py [--out DIR]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
RAINFALL_MM = {"Jan": 78, "Feb": 61, "Mar": 55, "Apr": 42, "May": 37, "Jun": 24}
RELIEF_BOAT = "Saltmarsh Heron"


def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def chart(path: Path) -> None:
    """A labelled bar chart, like the plot the lesson asks Phi-3-vision to recreate."""
    width, height, left, bottom, top = 640, 400, 70, 340, 60
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((width // 2, 24), "Monthly rainfall in Harbourtown, 2025", fill="black",
              font=font(20), anchor="mm")
    scale = (bottom - top) / 80
    for tick in range(0, 81, 20):
        y = bottom - tick * scale
        draw.line([(left, y), (width - 30, y)], fill=(225, 225, 225))
        draw.text((left - 8, y), str(tick), fill="black", font=font(13), anchor="rm")
    step = (width - left - 30) / len(RAINFALL_MM)
    for i, (month, mm) in enumerate(RAINFALL_MM.items()):
        x0 = left + i * step + step * 0.2
        x1 = x0 + step * 0.6
        draw.rectangle([(x0, bottom - mm * scale), (x1, bottom)], fill=(54, 110, 180))
        draw.text(((x0 + x1) / 2, bottom - mm * scale - 10), str(mm), fill="black",
                  font=font(13), anchor="mm")
        draw.text(((x0 + x1) / 2, bottom + 14), month, fill="black", font=font(14), anchor="mm")
    draw.line([(left, top - 10), (left, bottom), (width - 30, bottom)], fill="black", width=2)
    draw.text((18, (top + bottom) // 2), "mm", fill="black", font=font(14), anchor="mm")
    draw.text((width // 2, height - 18), "Month", fill="black", font=font(14), anchor="mm")
    image.save(path, optimize=True)


def key_frame(path: Path, index: int, frames: int = 3) -> None:
    """One frame of a ten-second sunrise at sea with a sailing boat crossing left to right."""
    width, height, horizon = 320, 180, 120
    t = index / (frames - 1)
    sky_top = _mix((12, 20, 60), (110, 170, 235), t)
    sky_low = _mix((220, 110, 60), (190, 220, 245), t)
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(horizon):
        draw.line([(0, y), (width, y)], fill=_mix(sky_top, sky_low, y / horizon))
    sun_y = horizon + 10 - t * 80
    draw.ellipse([(200, sun_y - 18), (236, sun_y + 18)], fill=(255, 200, 60))
    draw.rectangle([(0, horizon), (width, height)], fill=_mix((10, 30, 60), (30, 90, 150), t))
    boat_x = 30 + t * 200
    draw.polygon([(boat_x, horizon + 18), (boat_x + 44, horizon + 18), (boat_x + 36, horizon + 28),
                  (boat_x + 8, horizon + 28)], fill=(90, 50, 30))
    draw.polygon([(boat_x + 22, horizon - 22), (boat_x + 22, horizon + 16), (boat_x + 40, horizon + 16)],
                 fill=(245, 245, 240))
    draw.text((width - 8, height - 8), f"00:{index * 5:02d}", fill="white", font=font(12), anchor="rd")
    image.save(path, optimize=True)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


def long_document(path: Path, entries: int = 240) -> None:
    """A lighthouse keeper's log (~60,000 characters); only the last entry names the
    relief boat, and earlier entries mention other boats, so the answer needs the end."""
    rng = random.Random(19)
    weather = ["fog from the north-east", "a clear sky", "steady drizzle", "a gale from the west",
               "light winds and a calm sea", "squalls with hail", "a heavy swell", "bright sun"]
    chores = ["polished the lens", "trimmed the wicks", "painted the gallery rail",
              "checked the fog signal", "logged the barometer every four hours",
              "repaired the storeroom door", "carried oil up from the cellar",
              "cleaned the lantern glass", "mended the rain gutter", "tested the radio"]
    boats = ["Morning Tern", "Grey Gannet", "Kittiwake", "North Star", "Puffin II", "Cormorant"]
    lines = ["Log of the keeper of Ardmore Point lighthouse, kept from 1 March to the day of relief.", ""]
    for day in range(1, entries):
        lines.append(f"Day {day}. Weather: {rng.choice(weather)}. The keeper {rng.choice(chores)} "
                     f"and {rng.choice(chores)}. Light lit at {rng.randint(17, 20)}:"
                     f"{rng.choice(['00', '15', '30', '45'])}, extinguished at dawn. "
                     f"The supply boat {rng.choice(boats)} passed {rng.randint(1, 9)} miles offshore "
                     "without stopping. Oil in the tank: "
                     f"{rng.randint(300, 900)} litres. Nothing else to report.")
    lines.append(f"Day {entries}, the final entry. Weather: a clear sky. At ten in the morning the "
                 f"relief boat {RELIEF_BOAT} tied up at the landing stage with the new keeper and "
                 "his family. I handed over the keys, the log and the spare lens, and left "
                 "Ardmore Point on the afternoon tide.")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_all(out: Path) -> list[Path]:
    """Write every asset into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    made = [out / "rainfall-chart.png", out / "long-document.txt"]
    chart(made[0])
    long_document(made[1])
    for index in range(3):
        frame = out / f"sunrise-frame-{index + 1}.png"
        key_frame(frame, index)
        made.append(frame)
    return made


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    for made in make_all(parser.parse_args().out):
        print(made, made.stat().st_size, "bytes")
