"""Public-server mode and per-session limits."""

from __future__ import annotations

import pytest

from playground.policy import Policy, SessionLimiter, session_settings
from playground.validate import InputError
from providers.settings import Settings

SERVER = Settings.load(dotenv_path=None, environ={
    "NVIDIA_API_KEY": "nvapi-server-key-1234", "NIM_BASE_URL": "https://integrate.api.nvidia.com/v1"})


def test_space_means_public_unless_turned_off() -> None:
    assert Policy.from_env({"SPACE_ID": "user/space"}).public
    assert not Policy.from_env({"SPACE_ID": "user/space", "PLAYGROUND_PUBLIC": "0"}).public
    assert Policy.from_env({"PLAYGROUND_PUBLIC": "1"}).public
    assert not Policy.from_env({}).public
    assert Policy.from_env({"PLAYGROUND_PUBLIC": "1"}).max_runs_per_session == 2


def test_session_keys_win_for_that_session_only() -> None:
    mine = session_settings(SERVER, {"NVIDIA_API_KEY": "nvapi-mine-5678"}, Policy())
    assert mine.get("NVIDIA_API_KEY") == "nvapi-mine-5678"
    assert SERVER.get("NVIDIA_API_KEY") == "nvapi-server-key-1234"
    assert "nvapi-mine-5678" in mine.secret_values()


def test_public_mode_refuses_custom_endpoints() -> None:
    with pytest.raises(InputError) as caught:
        session_settings(SERVER, {"NIM_BASE_URL": "http://169.254.169.254/latest"},
                         Policy(public=True))
    assert "NIM_BASE_URL" in caught.value.message and "public server" in caught.value.message
    private = session_settings(SERVER, {"OLLAMA_HOST": "http://10.0.0.5:11434"}, Policy())
    assert private.get("OLLAMA_HOST") == "http://10.0.0.5:11434"


def test_server_keys_can_be_withheld_from_visitors() -> None:
    visitor = session_settings(SERVER, {}, Policy(public=True, share_server_keys=False))
    assert visitor.get("NVIDIA_API_KEY") is None
    assert visitor.get("NIM_BASE_URL") == "https://integrate.api.nvidia.com/v1"
    assert Policy.from_env({"PLAYGROUND_SHARE_SERVER_KEYS": "0"}).share_server_keys is False


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(InputError, match="Unknown setting"):
        session_settings(SERVER, {"PATH": "/tmp"}, Policy())


def test_session_limiter_caps_concurrent_runs() -> None:
    limiter = SessionLimiter(1)
    with limiter.slot("a"):
        with pytest.raises(InputError, match="already runs 1"):
            with limiter.slot("a"):
                pass
        with limiter.slot("b"):
            pass
    with limiter.slot("a"):
        pass


def test_empty_values_mean_the_default() -> None:
    policy = Policy.from_env({"PLAYGROUND_MAX_RUNS_PER_SESSION": "", "PLAYGROUND_PUBLIC": "",
                              "PLAYGROUND_SHARE_SERVER_KEYS": "", "PLAYGROUND_MAX_PROMPT_CHARS": ""})
    assert policy == Policy()


def test_server_settings_come_from_dotenv_too(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PLAYGROUND_PUBLIC=1\nPLAYGROUND_MAX_RUNS_PER_SESSION=3\n")
    policy = Policy.from_env()
    assert policy.public and policy.max_runs_per_session == 3


@pytest.mark.parametrize(("value", "says"), [
    ("many", "PLAYGROUND_MAX_RUNS_PER_SESSION must be a whole number; got 'many'"),
    ("0", "PLAYGROUND_MAX_RUNS_PER_SESSION must be at least 1 and at most 1,000; got 0"),
])
def test_bad_numbers_are_named(value, says) -> None:
    with pytest.raises(ValueError, match=says):
        Policy.from_env({"PLAYGROUND_MAX_RUNS_PER_SESSION": value})
