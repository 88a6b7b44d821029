"""Checks on an answer's text: contains, regex, language, JSON, max length, Python code.

Every check returns a :class:`CheckResult` with a short human-readable ``detail`` that
says what was found, so a failed check explains itself in the table and the report.

The language check is a script-based heuristic, not a language model:

* Chinese, Japanese, Korean, Arabic, Hebrew, Thai: the share of letters written in the
  language's script (``unicodedata`` names). Chinese fails when kana make up more than
  5 % of the letters (that is Japanese); Japanese needs some kana.
* Russian vs Ukrainian: Cyrillic share, then the letters only one of them uses
  (ы э ъ ё vs і ї є ґ).
* Latin-script languages: Latin share, then a vote of very common words ("the", "und",
  "les", ...); the expected language must get the most votes. Danish and Norwegian are
  too close to tell apart this way and are not offered.
"""

from __future__ import annotations

import ast
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CheckResult:
    """One check on one answer: ``name`` as shown in tables, pass/fail, and why."""

    name: str
    passed: bool
    detail: str

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


# --- fenced code blocks, shared by the JSON and Python checks ---------------------

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(```|\Z)", re.DOTALL)


@dataclass(frozen=True)
class Block:
    """A fenced code block; ``closed`` is False when the answer ended inside it."""

    lang: str
    body: str
    closed: bool


def fenced_blocks(text: str) -> list[Block]:
    """Every ```lang ... ``` block in order (an unterminated last block included)."""
    return [Block(m.group(1).lower(), m.group(2), bool(m.group(3)))
            for m in _FENCE.finditer(text)]


# --- contains, regex, max length ------------------------------------------------

def contains(text: str, needle: str, ignore_case: bool = False) -> CheckResult:
    name = f"contains {needle!r}"
    at = (text.lower().find(needle.lower()) if ignore_case else text.find(needle))
    if at < 0:
        return CheckResult(name, False, f"{needle!r} not found")
    return CheckResult(name, True, f"found at character {at}")


def matches(text: str, pattern: str, ignore_case: bool = False) -> CheckResult:
    name = f"regex {pattern}"
    found = re.search(pattern, text, re.IGNORECASE if ignore_case else 0)
    if found is None:
        return CheckResult(name, False, "no match")
    shown = found.group(0)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return CheckResult(name, True, f"matched {shown!r} at character {found.start()}")


def max_length(text: str, chars: int) -> CheckResult:
    return CheckResult(f"at most {chars} characters", len(text) <= chars,
                       f"{len(text)} characters (limit {chars})")


# --- JSON -----------------------------------------------------------------------

def find_json(text: str) -> tuple[Any, str] | tuple[None, str]:
    """The first JSON value in a fenced block, else the first ``{...}``/``[...]`` in the
    text. Returns (value, where it was found) or (None, why nothing was found)."""
    problem = "no JSON found"
    for block in fenced_blocks(text):
        if block.lang not in ("", "json", "jsonc"):
            continue
        try:
            return json.loads(block.body), f"```{block.lang} block"
        except json.JSONDecodeError as exc:
            if block.lang.startswith("json"):
                problem = f"the ```json block is not valid JSON ({exc.msg}, line {exc.lineno})"
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[{\[]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, (dict, list)) and value:
            return value, f"text at character {match.start()}"
    return None, problem


def is_json(text: str, required_keys: tuple[str, ...] = ()) -> CheckResult:
    """Valid JSON somewhere in the answer; ``required_keys`` must be in the top-level
    object, or in every object of a top-level list (an agent's list of steps)."""
    name = "valid JSON" + (f" with {', '.join(required_keys)}" if required_keys else "")
    value, where = find_json(text)
    if value is None:
        return CheckResult(name, False, where)
    objects = [value] if isinstance(value, dict) else [
        v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
    if required_keys and not objects:
        return CheckResult(name, False, f"JSON in {where} holds no object")
    missing = sorted({k for obj in objects for k in required_keys if k not in obj})
    if missing:
        return CheckResult(name, False, f"JSON in {where} lacks {', '.join(missing)}")
    keys = sorted({k for obj in objects for k in obj})
    return CheckResult(name, True, f"JSON in {where}; keys: {', '.join(keys) or '-'}")


# --- Python code block ----------------------------------------------------------

def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def python_code(text: str, must_parse: bool = False) -> CheckResult:
    """A ```python block (or an untagged block that parses as Python)."""
    name = "Python code block" + (" that parses" if must_parse else "")
    for block in fenced_blocks(text):
        tagged = block.lang in ("python", "py", "python3")
        if not tagged and not (block.lang == "" and "\n" in block.body.strip()
                               and _parses(block.body)):
            continue
        parses = _parses(block.body)
        lines = len(block.body.strip().splitlines())
        detail = (f"{lines}-line block, {'parses' if parses else 'does not parse'}"
                  + ("" if block.closed else ", unterminated (the answer was cut off)"))
        return CheckResult(name, parses or not must_parse, detail)
    return CheckResult(name, False, "no Python code block")


# --- language -------------------------------------------------------------------

_SCRIPT_PREFIXES = (
    ("CJK UNIFIED IDEOGRAPH", "Han"), ("CJK COMPATIBILITY IDEOGRAPH", "Han"),
    ("HIRAGANA", "Kana"), ("KATAKANA", "Kana"), ("HALFWIDTH KATAKANA", "Kana"),
    ("HANGUL", "Hangul"), ("ARABIC", "Arabic"), ("HEBREW", "Hebrew"),
    ("CYRILLIC", "Cyrillic"), ("THAI", "Thai"), ("LATIN", "Latin"), ("GREEK", "Greek"),
)

# Very common words per Latin-script language (lower case). A word in several lists
# votes for each; the distinctive ones decide.
_COMMON_WORDS = {
    "en": "the and of to is in that it you for are with this be can",
    "fr": "le la les et de des du est une un pour que dans vous qui pas sur au",
    "de": "der die das und ist nicht ein eine zu den mit sie auf für sich",
    "es": "el la los las y es de que en un una para por con del se",
    "it": "il la le e di che è un una per non sono con del della gli",
    "pt": "o a os as e de que em um uma para não com do da é",
    "nl": "de het een en van is dat op te zijn niet met voor je ook",
    "pl": "i w na nie się z do to że jest jak o co ale są",
    "cs": "a je se na v že to s z do jsou jak ale by pro",
    "sv": "och att det som en är på för med inte av till den har jag",
    "fi": "ja on ei se että hän oli ovat myös kuin mutta tai voi joka",
    "hu": "a az és hogy nem egy is van meg de ez csak már mint",
    "tr": "ve bir bu da de için ile çok ne daha gibi olarak var",
}
COMMON_WORDS = {code: frozenset(words.split()) for code, words in _COMMON_WORDS.items()}

SCRIPT_LANGUAGES = {"zh": "Han", "ja": "Han+Kana", "ko": "Hangul", "ar": "Arabic",
                    "he": "Hebrew", "th": "Thai", "ru": "Cyrillic", "uk": "Cyrillic"}
LANGUAGES = tuple(SCRIPT_LANGUAGES) + tuple(COMMON_WORDS)
_RU_ONLY, _UK_ONLY = set("ыэъёЫЭЪЁ"), set("іїєґІЇЄҐ")


def script_counts(text: str) -> tuple[Counter[str], int]:
    """Letters per script, and the number of letters (digits, spaces, marks excluded)."""
    counts: Counter[str] = Counter()
    letters = 0
    for char in text:
        if not char.isalpha():
            continue
        letters += 1
        name = unicodedata.name(char, "")
        for prefix, script in _SCRIPT_PREFIXES:
            if name.startswith(prefix):
                counts[script] += 1
                break
    return counts, letters


def language(text: str, code: str, min_share: float = 0.5) -> CheckResult:
    """Whether ``text`` is mostly in language ``code`` (see the module docstring)."""
    name = f"language {code} (≥{min_share:.0%})"
    counts, letters = script_counts(text)
    if not letters:
        return CheckResult(name, False, "no letters")
    share = lambda *scripts: sum(counts[s] for s in scripts) / letters  # noqa: E731
    kana = share("Kana")
    if code == "zh":
        value, ok = share("Han"), kana <= 0.05
        why = f"Han {value:.0%} of letters" + ("" if ok else f", kana {kana:.0%}: Japanese")
    elif code == "ja":
        value, ok = share("Han", "Kana"), kana > 0
        why = f"Han+kana {value:.0%} of letters" + ("" if ok else ", no kana")
    elif code in ("ru", "uk"):
        value = share("Cyrillic")
        ru, uk = sum(c in _RU_ONLY for c in text), sum(c in _UK_ONLY for c in text)
        ok = (ru >= uk) if code == "ru" else (uk > ru)
        why = f"Cyrillic {value:.0%} of letters; ы/э/ъ/ё {ru}, і/ї/є/ґ {uk}"
    elif code in SCRIPT_LANGUAGES:
        script = SCRIPT_LANGUAGES[code]
        value, ok = share(script), True
        why = f"{script} {value:.0%} of letters"
    else:
        value = share("Latin")
        votes = _common_word_votes(text)
        best = max(votes.values(), default=0)
        ok = votes.get(code, 0) > 0 and votes[code] == best and list(votes.values()).count(best) == 1
        top = ", ".join(f"{c} {n}" for c, n in votes.most_common(3)) or "none"
        why = f"Latin {value:.0%} of letters; common words: {top}"
    return CheckResult(name, ok and value >= min_share, why)


def _common_word_votes(text: str) -> Counter[str]:
    votes: Counter[str] = Counter()
    for word in re.findall(r"[^\W\d_]+", text.lower()):
        for code, words in COMMON_WORDS.items():
            if word in words:
                votes[code] += 1
    return votes
