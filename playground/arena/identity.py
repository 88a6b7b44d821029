"""Does an answer name a model or its maker? Such a vote is not blind any more.

FastChat's ``clean_battle_data.py`` drops an anonymous battle from the ratings when
either answer contains one of its ``IDENTITY_WORDS`` (model families and makers). The
arena does the same with its own list (the families and makers of small models) plus
the words of the two models' own ids; the battle is kept and flagged, and left out of
the scores (:mod:`playground.arena.stats`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from providers import Target

# Families and makers, lower case, matched as whole words (case-insensitive).
# Words common in ordinary answers ("meta-analysis", a falcon) are left out.
MAKER_WORDS = (
    "phi", "microsoft", "openai", "chatgpt", "gpt", "llama", "meta ai", "mistral",
    "mixtral", "qwen", "alibaba", "gemma", "gemini", "google", "anthropic", "claude",
    "nvidia", "nemotron", "deepseek", "tinyllama", "smollm", "hugging face", "ollama",
)
# Parts of model ids that name nothing (sizes and variants).
_GENERIC = {"instruct", "chat", "mini", "small", "medium", "large", "vision", "base",
            "onnx", "cpu", "gpu", "int4", "int8", "fp16", "latest", "preview", "it",
            "moe", "models", "model", "v1", "v2", "k", "4k", "8k", "128k"}


def model_words(targets: Iterable[Target]) -> list[str]:
    """Words that name the targets' models: each id's name parts (``phi-3.5-mini``
    gives ``phi-3.5-mini``, ``phi-3.5`` and ``phi``), without sizes and variants."""
    words: set[str] = set()
    for target in targets:
        name = target.model.lower().rsplit("/", 1)[-1].split(":")[0]
        words.add(name)
        parts = [p for p in re.split(r"[-_\s]+", name) if p]
        for k in range(1, len(parts) + 1):
            joined = "-".join(parts[:k])
            if joined not in _GENERIC and not joined.replace(".", "").isdigit():
                words.add(joined)
        for owner in target.model.lower().split("/")[:-1]:
            words.add(owner)
    return sorted(w for w in words if len(w) >= 3 and w not in _GENERIC)


def names_a_model(answers: Sequence[str], targets: Iterable[Target]) -> str | None:
    """The first identifying word found in any of ``answers`` (whole word, any case),
    or None. Words: :data:`MAKER_WORDS` and :func:`model_words` of the battle's targets."""
    words = sorted({*MAKER_WORDS, *model_words(targets)}, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(w) for w in words)
                         + r")(?![\w])", re.IGNORECASE)
    for answer in answers:
        if found := pattern.search(answer or ""):
            return found.group(1).lower()
    return None
