"""Checks on answers: each one passes on a good answer and fails, with a reason, on a bad one."""

from __future__ import annotations

import pytest

from playground.scenarios import checks
from playground.scenarios.model import CheckSpec

CHANGSHA = "是的，我知道长沙。长沙是中国南部的一座大城市，位于湖南省中部。"
JAPANESE = "はい、長沙は中国の湖南省の省都です。"


def test_contains_and_regex() -> None:
    assert checks.contains(CHANGSHA, "长沙").passed
    failed = checks.contains("I know Changsha.", "长沙")
    assert not failed.passed and "not found" in failed.detail
    assert checks.contains("Saltmarsh HERON", "saltmarsh heron", ignore_case=True).passed
    assert not checks.contains("Saltmarsh HERON", "saltmarsh heron").passed
    found = checks.matches("the sun rises", r"sun|boat")
    assert found.passed and "'sun' at character 4" in found.detail
    assert not checks.matches("a grey sky", r"sun|boat").passed


def test_max_length() -> None:
    assert checks.max_length("abc", 3).passed
    too_long = checks.max_length("abcd", 3)
    assert not too_long.passed and too_long.detail == "4 characters (limit 3)"


@pytest.mark.parametrize(("text", "code", "passed"), [
    (CHANGSHA, "zh", True),
    ("Yes, I know Changsha (长沙), a city in Hunan.", "zh", False),
    (JAPANESE, "zh", False),  # kana: Japanese, not Chinese
    (JAPANESE, "ja", True),
    ("长沙是湖南的省会。", "ja", False),  # no kana
    ("학습 효율을 높이려면 계획을 세우세요.", "ko", True),
    ("لتحسين كفاءة التعلم، ضع خطة واضحة.", "ar", True),
    ("เพื่อเพิ่มประสิทธิภาพการเรียนรู้ ควรวางแผน", "th", True),
    ("Чтобы повысить эффективность обучения, составьте план и делайте перерывы.", "ru", True),
    ("Щоб підвищити ефективність навчання, складіть план і робіть перерви.", "uk", True),
    ("Щоб підвищити ефективність навчання, складіть план і робіть перерви.", "ru", False),
    ("Pour apprendre mieux, il est utile de planifier les séances et de faire des pauses.",
     "fr", True),
    ("To learn better, it is useful to plan the sessions and to take breaks.", "fr", False),
    ("To learn better, it is useful to plan the sessions and to take breaks.", "en", True),
    ("Um besser zu lernen, ist es wichtig, dass du Pausen machst und den Stoff wiederholst.",
     "de", True),
    ("Para aprender mejor es útil que planifiques el estudio y que hagas pausas.", "es", True),
    ("Para aprender mejor es útil que planifiques el estudio y que hagas pausas.", "it", False),
    ("", "zh", False),
])
def test_language(text: str, code: str, passed: bool) -> None:
    result = checks.language(text, code)
    assert result.passed is passed, result.detail


def test_language_share_threshold_and_detail() -> None:
    mixed = "长沙 is the capital of Hunan province"  # 2 Han letters of 29
    result = checks.language(mixed, "zh", min_share=0.05)
    assert result.passed and result.detail.startswith("Han 7% of letters")
    assert not checks.language(mixed, "zh", min_share=0.5).passed
    assert checks.language(mixed, "zh", min_share=0.5).name == "language zh (≥50%)"


LESSON_ANSWER = """Sure.
```json
[
  {"agentid": "step1", "tool_name": "Blog", "input": "Generative AI with MOE", "output": "..."},
  {"agentid": "final", "tool_name": "Result", "output": "..."}
]
```"""


@pytest.mark.parametrize(("text", "keys", "passed", "says"), [
    (LESSON_ANSWER, ("tool_name",), True, "```json block; keys: agentid, input, output, tool_name"),
    ('The answer is {"tool_name": "Blog", "input": "x"} as asked.', ("tool_name",), True,
     "text at character 14"),
    ('```json\n{"tool_name": "Blog" "input": 1}\n```', (), False, "not valid JSON"),
    ('```json\n[{"agentid": "final"}]\n```', ("tool_name",), False, "lacks tool_name"),
    ('```json\n[{"tool_name": "Blog"}, {"agentid": "final"}]\n```', ("tool_name",), False,
     "lacks tool_name"),
    ("```json\n[1, 2]\n```", ("tool_name",), False, "holds no object"),
    ("No JSON here, sorry.", (), False, "no JSON found"),
    ('```json\n{"tool_name": "Blog"}\n```', (), True, "keys: tool_name"),
])
def test_is_json(text: str, keys: tuple[str, ...], passed: bool, says: str) -> None:
    result = checks.is_json(text, keys)
    assert result.passed is passed and says in result.detail, result.detail


@pytest.mark.parametrize(("text", "must_parse", "passed", "says"), [
    ("```python\nimport matplotlib.pyplot as plt\nplt.show()\n```", False, True, "2-line block, parses"),
    ("```py\nplt.bar(\n```", False, True, "does not parse"),
    ("```py\nplt.bar(\n```", True, False, "does not parse"),
    ("```python\nimport matplotlib.pyplot as plt\nplt.bar([1], [2])", True, True, "unterminated"),
    ("```\nimport os\nprint(os.getcwd())\n```", False, True, "parses"),  # untagged, parses
    ("```\nThis is prose, not code.\nReally.\n```", False, False, "no Python code block"),
    ("```javascript\nconsole.log(1)\n```", False, False, "no Python code block"),
    ("plt.plot([1, 2])", False, False, "no Python code block"),
])
def test_python_code(text: str, must_parse: bool, passed: bool, says: str) -> None:
    result = checks.python_code(text, must_parse)
    assert result.passed is passed and says in result.detail, result.detail


@pytest.mark.parametrize(("spec", "good", "bad"), [
    ({"contains": "长沙"}, CHANGSHA, "Changsha"),
    ({"regex": {"pattern": "SUN", "ignore_case": True}}, "the sun", "the moon"),
    ({"language": "zh"}, CHANGSHA, "Changsha"),
    ({"is_json": ["tool_name"]}, LESSON_ANSWER, "{}"),
    ({"is_json": True}, '{"a": 1}', "nothing"),
    ({"max_length": 10}, "short", "far too long for this"),
    ({"python_code": {"must_parse": True}}, "```python\nx = 1\n```", "```python\nx = \n```"),
])
def test_check_specs_from_yaml_shorthand(spec: dict, good: str, bad: str) -> None:
    check = CheckSpec.model_validate(spec)
    assert check.evaluate(good).passed
    failed = check.evaluate(bad)
    assert not failed.passed and failed.detail


def test_an_empty_answer_fails_every_check_and_names_keep() -> None:
    named = CheckSpec.model_validate({"name": "short answer", "max_length": 100})
    result = named.evaluate("")
    assert (result.name, result.passed, result.detail) == ("short answer", False, "no answer")
    assert CheckSpec.model_validate({"max_length": 100}).evaluate("").name == "at most 100 characters"


def test_fenced_blocks() -> None:
    blocks = checks.fenced_blocks("a\n```json\n{}\n```\nb\n```python\nx = 1")
    assert [(b.lang, b.body, b.closed) for b in blocks] == [("json", "{}\n", True),
                                                            ("python", "x = 1", False)]
