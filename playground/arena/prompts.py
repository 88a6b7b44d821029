"""The teacher's list of arena prompts, each with its category (the leaderboard's
filter). The lesson's questions first; ``PLAYGROUND_ARENA_PROMPTS`` may name a text file
of ``category | prompt`` lines that replaces the list."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from playground.validate import InputError
from providers.settings import Settings

PROMPTS_VAR = "PLAYGROUND_ARENA_PROMPTS"
MAX_PROMPTS, MAX_CATEGORY_CHARS = 200, 40


@dataclass(frozen=True)
class ArenaPrompt:
    category: str
    text: str


LESSON = (
    ArenaPrompt("chinese", "你知道长沙吗？"),
    ArenaPrompt("chinese", "请用三句话介绍一下湖南的美食。"),
    ArenaPrompt("reasoning", "A bat and a ball cost 1.10 in total. The bat costs 1.00 more "
                             "than the ball. How much does the ball cost? Explain briefly."),
    ArenaPrompt("coding", "Write a Python function that returns the n-th Fibonacci number "
                          "iteratively, with a docstring."),
    ArenaPrompt("writing", "Write a four-line poem about a small language model running "
                           "on a laptop."),
    ArenaPrompt("knowledge", "Explain in two sentences why the sky is blue."),
)


def category_problem(category: str | None) -> str | None:
    """Why ``category`` cannot be used (None when it can, or when it is empty)."""
    text = (category or "").strip()
    if len(text) > MAX_CATEGORY_CHARS:
        return f"A category has at most {MAX_CATEGORY_CHARS} characters."
    if any(not (c.isalnum() or c in " _.-") for c in text):
        return "A category has letters, digits, spaces, '_', '.' and '-' only."
    return None


def clean_category(category: str | None) -> str | None:
    """The category, trimmed and lower case, or None when empty (InputError if bad)."""
    if (why := category_problem(category)) is not None:
        raise InputError([why])
    return (category or "").strip().lower() or None


def arena_prompts(settings: Settings) -> list[ArenaPrompt]:
    """The lesson's prompts, or the file :data:`PROMPTS_VAR` names (``category |
    prompt`` per line; ValueError naming the line that is not)."""
    path = settings.get(PROMPTS_VAR)
    if not path:
        return list(LESSON)
    prompts = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        category, sep, text = line.partition("|")
        if not sep or not text.strip() or category_problem(category):
            raise ValueError(f"{PROMPTS_VAR} line {number}: write 'category | prompt'.")
        prompts.append(ArenaPrompt(category.strip().lower(), text.strip()))
    return prompts[:MAX_PROMPTS]
