"""The curated Phi family: capabilities and each provider's id for every model.

Ids come from each service's own listing (Azure AI Foundry catalog names, NVIDIA's API
catalog, the Ollama library's tags) and the ONNX folder names used by ``playground models
download``. Services change their catalogs, so pickers merge this list with what each
service reports at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from providers.base import ModelEntry


@dataclass(frozen=True)
class PhiModel:
    """One Phi model; ``routes`` maps provider id to that provider's model id."""

    key: str
    name: str
    context_length: int
    routes: Mapping[str, str]
    max_images: int = 0
    route_max_images: Mapping[str, int] = field(default_factory=dict)
    note: str = ""

    @property
    def vision(self) -> bool:
        return self.max_images > 0

    def images_on(self, provider: str) -> int:
        """How many images this model takes per request on ``provider``."""
        return self.route_max_images.get(provider, self.max_images)


def _ms(name: str) -> str:
    return f"microsoft/{name.lower()}"


PHI_MODELS: tuple[PhiModel, ...] = (
    PhiModel("phi-3-mini-4k", "Phi-3-mini-4k-instruct", 4096, {
        "azure": "Phi-3-mini-4k-instruct", "nim": _ms("Phi-3-mini-4k-instruct"),
        "github": _ms("Phi-3-mini-4k-instruct"), "ollama": "phi3", "onnx": "phi-3-mini-4k"}),
    PhiModel("phi-3-mini-128k", "Phi-3-mini-128k-instruct", 131072, {
        "azure": "Phi-3-mini-128k-instruct", "nim": _ms("Phi-3-mini-128k-instruct"),
        "github": _ms("Phi-3-mini-128k-instruct"), "ollama": "phi3:mini-128k"}),
    PhiModel("phi-3-small-8k", "Phi-3-small-8k-instruct", 8192, {
        "azure": "Phi-3-small-8k-instruct", "nim": _ms("Phi-3-small-8k-instruct"),
        "github": _ms("Phi-3-small-8k-instruct")}),
    PhiModel("phi-3-small-128k", "Phi-3-small-128k-instruct", 131072, {
        "azure": "Phi-3-small-128k-instruct", "nim": _ms("Phi-3-small-128k-instruct"),
        "github": _ms("Phi-3-small-128k-instruct")}),
    PhiModel("phi-3-medium-4k", "Phi-3-medium-4k-instruct", 4096, {
        "azure": "Phi-3-medium-4k-instruct", "nim": _ms("Phi-3-medium-4k-instruct"),
        "github": _ms("Phi-3-medium-4k-instruct"), "ollama": "phi3:medium"}),
    PhiModel("phi-3-medium-128k", "Phi-3-medium-128k-instruct", 131072, {
        "azure": "Phi-3-medium-128k-instruct", "nim": _ms("Phi-3-medium-128k-instruct"),
        "github": _ms("Phi-3-medium-128k-instruct"), "ollama": "phi3:medium-128k"}),
    PhiModel("phi-3.5-mini", "Phi-3.5-mini-instruct", 131072, {
        "azure": "Phi-3.5-mini-instruct", "nim": _ms("Phi-3.5-mini-instruct"),
        "github": _ms("Phi-3.5-mini-instruct"), "ollama": "phi3.5", "onnx": "phi-3.5-mini"}),
    PhiModel("phi-3.5-moe", "Phi-3.5-MoE-instruct", 131072, {
        "azure": "Phi-3.5-MoE-instruct", "nim": _ms("Phi-3.5-MoE-instruct"),
        "github": _ms("Phi-3.5-MoE-instruct")},
        note="16 x 3.8B experts, 6.6B active; too large for CPU: use a cloud route"),
    PhiModel("phi-3-vision-128k", "Phi-3-vision-128k-instruct", 131072, {
        "azure": "Phi-3-vision-128k-instruct", "nim": _ms("Phi-3-vision-128k-instruct"),
        "onnx": "phi-3-vision-128k"}, max_images=1,
        note="one image per request; NIM serves it on the VLM route (inline <img>)"),
    PhiModel("phi-3.5-vision", "Phi-3.5-vision-instruct", 131072, {
        "azure": "Phi-3.5-vision-instruct", "nim": _ms("Phi-3.5-vision-instruct"),
        "github": _ms("Phi-3.5-vision-instruct"), "onnx": "phi-3.5-vision"},
        max_images=20, route_max_images={"azure": 1},
        note="several images (video frames); Azure serverless takes one image per turn"),
    PhiModel("phi-4", "Phi-4", 16384, {
        "azure": "Phi-4", "github": _ms("Phi-4"), "ollama": "phi4"}),
    PhiModel("phi-4-mini", "Phi-4-mini-instruct", 131072, {
        "azure": "Phi-4-mini-instruct", "nim": _ms("Phi-4-mini-instruct"),
        "github": _ms("Phi-4-mini-instruct"), "ollama": "phi4-mini"}),
    PhiModel("phi-4-multimodal", "Phi-4-multimodal-instruct", 131072, {
        "azure": "Phi-4-multimodal-instruct", "nim": _ms("Phi-4-multimodal-instruct"),
        "github": _ms("Phi-4-multimodal-instruct")}, max_images=20),
    PhiModel("phi-4-reasoning", "Phi-4-reasoning", 32768, {
        "azure": "Phi-4-reasoning", "github": _ms("Phi-4-reasoning"),
        "ollama": "phi4-reasoning"}),
    PhiModel("phi-4-mini-reasoning", "Phi-4-mini-reasoning", 131072, {
        "azure": "Phi-4-mini-reasoning", "github": _ms("Phi-4-mini-reasoning"),
        "ollama": "phi4-mini-reasoning"}),
    PhiModel("phi-4-mini-flash-reasoning", "Phi-4-mini-flash-reasoning", 65536, {
        "nim": _ms("Phi-4-mini-flash-reasoning")}),
)

# NIM serves Phi-3-vision only on its VLM route, with images inline in the text.
NIM_VLM_MODELS = frozenset({_ms("Phi-3-vision-128k-instruct")})


def lookup(provider: str, model_id: str) -> PhiModel | None:
    """The Phi model behind ``provider:model_id``, matching case-insensitively and
    ignoring an Ollama ``:latest`` tag; None for models outside the catalog."""
    wanted = model_id.lower().removesuffix(":latest")
    for model in PHI_MODELS:
        route = model.routes.get(provider)
        if route is not None and route.lower() == wanted:
            return model
    return None


def catalog_entries(provider: str) -> list[ModelEntry]:
    """The catalog's models for ``provider``, as picker entries."""
    return [
        ModelEntry(id=m.routes[provider], family=m.name, vision=m.vision,
                   max_images=m.images_on(provider), context_length=m.context_length,
                   note=m.note)
        for m in PHI_MODELS if provider in m.routes
    ]
