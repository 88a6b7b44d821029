"""Helpers for the scenario tests: answers that pass each shipped pack's checks, fake
behaviours that answer by prompt, scenario files written on the fly, an ONNX models
folder with the shipped packs' model names pointing at the tiny fixtures."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fake_services.services import Behaviour, Behaviours
from playground.scenarios.files import load_scenario
from playground.scenarios.model import SCENARIOS_DIR
from playground.scenarios.runner import RunOptions, RunRow, ScenarioRun
from playground.store import Store
from providers.settings import Settings
from tests.conftest import REPO

FIXTURE_MODELS = Path(REPO) / "tests" / "fixtures" / "models"
PACKS = ("chinese-qa", "multilingual", "vision-chart", "vision-frames", "moe-agent", "long-context")

# prompt fragment -> an answer that passes that case's checks
PASSING = {
    "你知道长沙吗": "长沙是湖南省的省会，历史悠久，有岳麓山和橘子洲。",
    "如何提升学习效率": "提升学习效率的方法：制定计划，专注学习，定期复习，保证睡眠。",
    "Pouvez-vous": "Pour améliorer votre apprentissage, il est utile de planifier les séances "
                   "et de faire des pauses régulières dans la journée.",
    "Kannst du": "Um die Lerneffizienz zu verbessern, ist es wichtig, dass du Pausen machst und "
                 "den Stoff mit eigenen Worten wiederholst.",
    "¿Puedes": "Para mejorar la eficiencia de tu aprendizaje es útil que planifiques el estudio "
               "y que hagas pausas con regularidad.",
    "学習効率": "学習効率を上げるには、計画を立てて、こまめに休憩を取ることが大切です。",
    "학습 효율": "학습 효율을 높이려면 계획을 세우고 규칙적으로 쉬는 것이 중요합니다.",
    "هل يمكنك": "لتحسين كفاءة التعلم، ضع خطة واضحة وخذ فترات راحة منتظمة.",
    "Можешь": "Чтобы повысить эффективность обучения, составьте план и делайте перерывы.",
    "คุณช่วย": "เพื่อเพิ่มประสิทธิภาพการเรียนรู้ ควรวางแผนและพักผ่อนอย่างสม่ำเสมอ",
    "Please create Python code": "Here is the code:\n```python\nimport matplotlib.pyplot as plt\n"
                                 "plt.bar(['Jan', 'Feb'], [78, 61])\n"
                                 "plt.savefig('imgs/phi-3-vision.jpg')\n```\n",
    "Summarize the video": "A sailing boat crosses the sea from left to right while the sun rises.",
    "Generative AI with MOE": '```json\n[{"agentid": "step1", "tool_name": "Blog", "input": "MoE", '
                              '"output": "..."}, {"agentid": "final", "tool_name": "Result", '
                              '"output": "..."}]\n```',
    "relief boat": "Saltmarsh Heron",
}


@dataclass
class ByPrompt(Behaviour):
    """A fake model that answers from ``answers`` (first key found in the prompt)."""

    answers: Mapping[str, str] = field(default_factory=dict)

    def answer(self, prompt: str) -> list[str]:
        for fragment, text in self.answers.items():
            if fragment in prompt:
                return [text[i:i + 8] for i in range(0, len(text), 8)]
        return super().answer(prompt)


def answering(behaviours: Behaviours, answers: Mapping[str, str] = PASSING,
              first_s: float = 0.01, interval_s: float = 0.002) -> None:
    """Make every fake model answer by prompt, quickly."""
    behaviours.default = ByPrompt(first_s=first_s, interval_s=interval_s, answers=answers)


def onnx_models(tmp_path: Path) -> Path:
    """A models folder whose catalog names point at the tiny fixtures."""
    folder = tmp_path / "onnx-models"
    folder.mkdir()
    for name, fixture in (("phi-3-mini-4k", "tiny-phi3"), ("phi-3.5-mini", "tiny-phi3"),
                          ("phi-3-vision-128k", "tiny-phi3-vision"),
                          ("phi-3.5-vision", "tiny-phi3-vision")):
        (folder / name).symlink_to(FIXTURE_MODELS / fixture, target_is_directory=True)
    return folder


def write_scenario(folder: Path, name: str = "pack.yaml", **fields: Any) -> Path:
    """A scenario file with sensible defaults, overridden by ``fields``."""
    data: dict[str, Any] = {
        "id": "test-pack", "title": "Test pack", "repeats": 1, "warmup": 0,
        "groups": [{"name": "A", "routes": ["nim:microsoft/phi-3.5-mini-instruct"]},
                   {"name": "B", "routes": ["azure:Phi-3.5-mini-instruct"]}],
        "cases": [{"id": "one", "prompt": "Hello?"}],
    }
    data.update(fields)
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run_scenario(path: Path | str, settings: Settings, options: RunOptions = RunOptions(),
                 store: Store | None = None) -> ScenarioRun:
    """Load and run a scenario to the end (a pack id means scenarios/ID.yaml)."""
    path = Path(path) if Path(path).suffix else SCENARIOS_DIR / f"{path}.yaml"
    run = ScenarioRun(load_scenario(path), settings, options, store)

    async def go() -> None:
        async for _ in run.updates():
            pass
    asyncio.run(go())
    return run


def by_key(rows: list[RunRow]) -> dict[tuple[str, str, int, bool], RunRow]:
    return {(r.case, r.group, r.repeat, r.warmup): r for r in rows}
