"""The lesson's comparisons as one-click presets, one per route that serves both models.

Routes are taken from the curated catalog; GitHub Models is retired, so no preset ever
depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from providers.catalog import PHI_MODELS

ROUTES = {"nim": "NVIDIA NIM", "azure": "Azure AI Foundry", "ollama": "Ollama",
          "onnx": "ONNX local"}
ZH_SYSTEM = "你是一个乐于助人的助手，用中文回答。"


@dataclass(frozen=True)
class Pair:
    """Two catalog models compared on one prompt."""

    title: str
    first: str
    second: str
    prompt: str
    system: str = ""
    needs_image: bool = False


LESSON_PAIRS = (
    Pair("Phi-3-mini vs Phi-3.5-mini (Chinese)", "phi-3-mini-4k", "phi-3.5-mini",
         "你知道长沙吗？", ZH_SYSTEM),
    Pair("Phi-3-vision vs Phi-3.5-vision", "phi-3-vision-128k", "phi-3.5-vision",
         "Describe the image, then write matplotlib code that recreates it.",
         needs_image=True),
    Pair("Phi-3.5-MoE vs Phi-3.5-mini", "phi-3.5-moe", "phi-3.5-mini",
         "Write something about Generative AI with MoE, then translate it to Chinese."),
)


@dataclass(frozen=True)
class Preset:
    """A ready setup: targets, prompt and system prompt."""

    name: str
    route: str
    targets: tuple[str, ...]
    prompt: str
    system: str
    needs_image: bool


def presets() -> list[Preset]:
    """Every lesson pair on every route (of ROUTES) that serves both of its models."""
    models = {m.key: m for m in PHI_MODELS}
    found = []
    for pair in LESSON_PAIRS:
        a, b = models[pair.first], models[pair.second]
        for route, title in ROUTES.items():
            if route in a.routes and route in b.routes:
                targets = (f"{route}:{a.routes[route]}", f"{route}:{b.routes[route]}")
                found.append(Preset(f"{pair.title} · {title}", route, targets, pair.prompt,
                                    pair.system, pair.needs_image))
    return found


def find(name: str) -> Preset | None:
    """The preset called ``name``."""
    return next((p for p in presets() if p.name == name), None)
