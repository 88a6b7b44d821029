"""Planted keys never appear in any output channel: logs at every level, error
messages, JSON/CSV/table output."""

from __future__ import annotations

import logging

from fake_services.server import FakeServer, json_reply
from fake_services.services import KEYS
from playground.logs import RedactingFilter
from tests.test_cli import compare_args, playground

TARGETS = ["nim:microsoft/phi-3.5-mini-instruct", "azure:Phi-3.5-mini-instruct",
           "ollama:phi3.5", "openai:phi-3.5-mini-instruct"]


def echo_key_401(key: str):
    return lambda request: json_reply(401, {"error": {"message": f"Invalid key {key} for "
                                                                 f"{request.headers.get('Authorization')}"}})


def test_keys_never_reach_any_output(server: FakeServer, fakes, tmp_path) -> None:
    # One provider echoes its key back in an error body; the others succeed.
    server.on("POST", "/compat/v1/chat/completions", echo_key_401(KEYS["OPENAI_COMPAT_API_KEY"]))
    for fmt in ("json", "csv", "table"):
        done = playground("-vv", *compare_args(*TARGETS, fmt=fmt), env=fakes, cwd=tmp_path)
        assert done.returncode == 1
        assert "DEBUG" in done.stderr, "the SDKs' debug logs are part of the test"
        assert "Invalid key ***" in done.stdout
        for key in KEYS.values():
            assert key not in done.stdout, (fmt, key)
            assert key not in done.stderr, (fmt, key)
    # GitHub Models (retired) is refused before sending, its token set or not.
    refused = playground("-vv", *compare_args("github:microsoft/phi-3.5-mini-instruct"),
                         env=fakes, cwd=tmp_path)
    assert refused.returncode == 2 and "retired" in refused.stderr
    assert all(key not in refused.stdout + refused.stderr for key in KEYS.values())


def test_redacting_filter_covers_args_and_tracebacks() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "key=%s", ("sk-secret-1234",), None)
    try:
        raise ValueError("boom sk-secret-1234")
    except ValueError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    RedactingFilter(["sk-secret-1234"]).filter(record)
    assert record.getMessage() == "key=***"
    assert "sk-secret-1234" not in record.exc_text and "boom ***" in record.exc_text


def test_a_password_inside_a_database_url_is_a_secret() -> None:
    from providers.settings import Settings

    settings = Settings.load(dotenv_path=None, environ={
        "PLAYGROUND_DB": "postgresql://teacher:cl%40ss-pass-2026@127.0.0.1:5432/arena",
        "OPENAI_COMPAT_BASE_URL": "http://127.0.0.1:8080/v1"})
    secrets = settings.secret_values()
    assert "cl@ss-pass-2026" in secrets and "cl%40ss-pass-2026" in secrets
    assert not any("127.0.0.1" in s or "teacher" in s for s in secrets)  # nothing else
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "could not connect: %s",
                               ("password cl@ss-pass-2026 refused",), None)
    RedactingFilter(secrets).filter(record)
    assert record.getMessage() == "could not connect: password *** refused"
