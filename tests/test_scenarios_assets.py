"""The packs' project-made inputs: the committed files are what the script makes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PIL import Image, ImageStat

from playground.scenarios.model import SCENARIOS_DIR

ASSETS = SCENARIOS_DIR / "assets"


def load_script():
    spec = importlib.util.spec_from_file_location("make_assets", ASSETS / "make_assets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_script_rebuilds_the_committed_assets_byte_for_byte(tmp_path: Path) -> None:
    made = load_script().make_all(tmp_path)
    assert sorted(p.name for p in made) == sorted(
        p.name for p in ASSETS.iterdir() if p.suffix in (".png", ".txt"))
    for path in made:
        assert path.read_bytes() == (ASSETS / path.name).read_bytes(), path.name


def test_the_assets_are_what_the_packs_need() -> None:
    with Image.open(ASSETS / "rainfall-chart.png") as chart:
        assert chart.size == (640, 400)
    frames = [Image.open(ASSETS / f"sunrise-frame-{i}.png").convert("L") for i in (1, 2, 3)]
    brightness = [ImageStat.Stat(f).mean[0] for f in frames]
    assert brightness == sorted(brightness), "the sun rises: each frame is brighter"
    document = (ASSETS / "long-document.txt").read_text(encoding="utf-8")
    assert 50_000 < len(document) < 100_000
    assert document.rstrip().splitlines()[-1].startswith("Day 240, the final entry.")
