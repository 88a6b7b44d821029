"""Every error kind, through each provider's real SDK: the right kind, a clear message,
no blind retry, and text received before a fault kept as partial."""

from __future__ import annotations

import pytest

from fake_services.faults import ROUTES, inject
from fake_services.server import FakeServer
from fake_services.services import Behaviours
from providers.base import ChatRequest
from providers.settings import Settings
from tests.support import compare

TIMEOUT_S = 1.0
EXPECTED = {
    "401": "auth", "403": "auth", "404": "not_found", "410": "retired", "413": "bad_request",
    "429": "rate_limit", "429-long": "rate_limit", "500": "unavailable", "503": "unavailable",
    "refused": "unavailable", "dns": "unavailable", "no_headers": "timeout",
    "stall": "timeout", "reset": "unavailable", "malformed": "bad_response",
    "error_event": "bad_response", "no_terminator": "bad_response", "empty": "bad_response",
    "huge": "bad_response",
}
PARTIAL = {"stall", "reset", "malformed", "error_event", "no_terminator", "huge"}
# GitHub Models only ever answers 410 now: its other faults are covered by the routes
# that share its SDK path (openai, nim, azure).
CASES = [(route, fault) for route in sorted(ROUTES) for fault in sorted(EXPECTED)
         if route != "github" or fault in ("410", "refused", "dns")]


@pytest.fixture
def slow_enough(behaviours: Behaviours) -> Behaviours:
    behaviours.default.pieces = ["one", " two", " three", " four", " five"]
    behaviours.default.first_s = 0.0
    behaviours.default.interval_s = 0.005
    return behaviours


@pytest.mark.parametrize(("route_name", "fault"), CASES)
def test_fault_gives_its_kind(route_name: str, fault: str, server: FakeServer, fakes,
                              slow_enough) -> None:
    env, route = inject(server, fakes, route_name, fault, timeout_s=TIMEOUT_S)
    request = ChatRequest("", "Hello?", max_tokens=16)
    (result,), wall_ms = compare(Settings(env), [route.target], request, timeout_s=TIMEOUT_S)
    assert result.status == "error"
    assert result.error_kind == EXPECTED[fault], result.error
    assert result.error and len(result.error) > 20
    assert wall_ms < (TIMEOUT_S + 1.5) * 1000
    assert result.partial is (fault in PARTIAL), (result.text, result.error)
    if fault in PARTIAL:
        assert result.text.startswith("one two") and "partial" in result.error
    if fault not in ("refused", "dns"):
        sent = [r for r in server.requests if r.path == route.path]
        assert len(sent) == 1, "the request was retried"


@pytest.mark.parametrize("route_name", ["nim", "azure-inference", "ollama"])
def test_auth_message_names_the_variable(route_name: str, server: FakeServer, fakes) -> None:
    env, route = inject(server, fakes, route_name, "401", timeout_s=TIMEOUT_S)
    (result,), _ = compare(Settings(env), [route.target])
    if route_name == "ollama":
        assert "401" in result.error
    else:
        variable = {"nim": "NVIDIA_API_KEY", "azure-inference": "AZURE_AI_API_KEY"}[route_name]
        assert variable in result.error


def test_rate_limit_says_when_to_retry(server: FakeServer, fakes) -> None:
    env, route = inject(server, fakes, "nim", "429-long", timeout_s=TIMEOUT_S)
    (result,), wall_ms = compare(Settings(env), [route.target])
    assert "Retry after 3600 s" in result.error
    assert wall_ms < 2000, "a long Retry-After must fail at once"


@pytest.mark.parametrize("route_name", ["nim", "azure-inference", "ollama"])
def test_short_retry_after_is_honoured_once(route_name: str, server: FakeServer, fakes) -> None:
    env, route = inject(server, fakes, route_name, "429-short", timeout_s=TIMEOUT_S)
    (result,), wall_ms = compare(Settings(env), [route.target])
    sent = [r for r in server.requests if r.path == route.path]
    if route_name == "ollama":  # ollama's client does not expose headers: never retried
        assert len(sent) == 1 and result.error_kind == "rate_limit"
        return
    assert len(sent) == 2, "a short Retry-After is honoured exactly once"
    assert result.error_kind == "rate_limit"
    assert any("retried once" in n for n in result.notices)
    assert 1000 <= wall_ms < 3000


def test_ollama_not_running_says_so(fakes) -> None:
    env = {**fakes, "OLLAMA_HOST": "http://127.0.0.1:9"}
    (result,), _ = compare(Settings(env), ["ollama:phi3.5"])
    assert result.error_kind == "unavailable"
    assert result.error.startswith("Ollama is not running at http://127.0.0.1:9")


def test_ollama_unknown_model_says_how_to_pull(fakes) -> None:
    (result,), _ = compare(Settings(fakes), ["ollama:missing-model"])
    assert result.error_kind == "not_found"
    assert "ollama pull missing-model" in result.error


def test_a_key_echoed_by_the_server_is_redacted(server: FakeServer, fakes) -> None:
    key = fakes["NVIDIA_API_KEY"]
    from fake_services.server import json_reply

    server.on("POST", "/nim/v1/chat/completions",
              lambda r: json_reply(401, {"status": 401, "detail": f"bad key {key}"}))
    (result,), _ = compare(Settings.load(dotenv_path=None, environ=fakes),
                           ["nim:microsoft/phi-3.5-mini-instruct"])
    assert key not in result.error and "***" in result.error


def test_error_class_finds_each_kind_from_the_classes_themselves() -> None:
    # The onnx worker reports failures by kind; the parent raises the class of that kind.
    import providers.errors as errors

    classes = [c for c in vars(errors).values() if isinstance(c, type)
               and issubclass(c, errors.ProviderError) and c is not errors.ProviderError
               and "kind" in vars(c)]
    assert len({c.kind for c in classes}) == len(classes)  # one class per kind
    for cls in classes:
        assert errors.error_class(cls.kind) is cls
    assert errors.error_class("cut_off") is errors.BadResponseError  # no such kind
    assert errors.error_class("bad_response") is errors.BadResponseError  # not CutOffError
