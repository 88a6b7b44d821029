"""Can a target run now? One check for the CLI, the web UI, scenario routes and the planner.

:func:`target_readiness` answers for ``PROVIDER:MODEL`` and :func:`provider_readiness`
for a provider alone, each with one :class:`Readiness`: a state, one plain sentence for
a user, and what makes it runnable. Both are synchronous and never raise.

The rules, in order:

- ``invalid``: the target is not ``PROVIDER:MODEL`` or names no known provider.
- ``retired``: GitHub Models (retired by GitHub on 2026-07-30), whatever is configured;
  the message names the routes that still work, never asks for a token.
- ``needs_key``: a required variable (key, endpoint) has no value; the message names it.
- ``needs_package``: an optional runtime is not installed (``transformers`` without torch).
- ``server_down``: Ollama, or the OpenAI-compatible server, refuses the connection or does
  not answer a quick probe (:mod:`providers.probes`: how quick, how often, and why a
  server that answered a minute ago and is now slow counts as busy, not down).
- ``not_downloaded``: Ollama lists its tags and the model is not among them
  (``ollama pull MODEL``), or an ONNX / Transformers model folder is missing
  (``python -m playground models download NAME`` for the models the playground knows).
- ``ready`` otherwise. ``refused`` is for callers that refuse a ready target by policy.

Cloud services are not called: a set key counts as ready (a wrong key is the run's error).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import providers
from providers import Target, probes
from providers.base import Provider
from providers.catalog import lookup
from providers.errors import ConfigError, retired_message
from providers.probes import clear_probe_cache, same_ollama_model
from providers.registry import SPECS
from providers.settings import Settings

READY, NEEDS_KEY, NEEDS_PACKAGE = "ready", "needs_key", "needs_package"
NOT_DOWNLOADED, SERVER_DOWN, RETIRED = "not_downloaded", "server_down", "retired"
REFUSED, INVALID = "refused", "invalid"
STATES = (READY, NEEDS_KEY, NEEDS_PACKAGE, NOT_DOWNLOADED, SERVER_DOWN, RETIRED, REFUSED, INVALID)
# States in which a provider is not set up here (a variable, a package, or a public server's
# refusal): nothing is sent to it, not even a request for its model list.
UNCONFIGURED = (NEEDS_KEY, NEEDS_PACKAGE, REFUSED)
RETIRED_FIX = "use azure:, nim:, ollama:, onnx: or openai: instead"
REFUSAL_HEAD = "Nothing was sent; these targets cannot run yet:"


@dataclass(frozen=True)
class Readiness:
    """Whether ``target`` can run now.

    ``target`` is ``PROVIDER:MODEL`` (the provider id alone from
    :func:`provider_readiness`); ``state`` one of :data:`STATES`; ``message`` one plain
    sentence for a user ("needs NVIDIA_API_KEY", "ready"); ``fix`` what makes it runnable
    (the variable to set, the command to run), empty when ready.
    """

    target: str
    state: str
    message: str
    fix: str = ""

    @property
    def ready(self) -> bool:
        return self.state == READY

    @property
    def configured(self) -> bool:
        """Whether the provider is set up here (see :data:`UNCONFIGURED`); a configured
        provider may still be unable to run (server down, model not downloaded)."""
        return self.state not in UNCONFIGURED

    def describe(self) -> str:
        """The message with its fix, as one line: ``message (fix)``."""
        if self.state == NEEDS_KEY and self.message.startswith("needs "):  # fix repeats them
            return f"{self.message} in the environment or .env"
        if self.state == RETIRED:  # the message names the routes that still work
            return self.message
        return f"{self.message} ({self.fix})" if self.fix else self.message


def provider_readiness(provider_id: str, settings: Settings) -> Readiness:
    """Whether provider ``provider_id`` can run anything now (never raises)."""
    try:
        cls = providers.PROVIDERS.get(provider_id)
        if cls is None:
            return Readiness(provider_id, INVALID, f"unknown provider {provider_id!r}; "
                             f"choose one of {', '.join(sorted(providers.PROVIDERS))}")
        instance = cls(settings)
        return _configuration(provider_id, instance) or _provider_probe(instance)
    except Exception as exc:  # a readiness check must never take a page or a CLI down
        return Readiness(provider_id, INVALID, f"could not check {provider_id}: {exc}")


def target_readiness(target: str | Target, settings: Settings) -> Readiness:
    """Whether ``target`` (``PROVIDER:MODEL``) can run now (never raises)."""
    spec = str(target)
    try:
        parsed = target if isinstance(target, Target) else providers.parse_target(spec)
    except ConfigError as exc:
        return Readiness(spec, INVALID, exc.message)
    spec = str(parsed)
    try:
        instance = providers.create(parsed.provider, settings)
        found = (_public_refusal(spec, instance, parsed.model) or _configuration(spec, instance)
                 or _target_probe(instance, parsed.model))
    except Exception as exc:  # never raise: see provider_readiness
        return Readiness(spec, INVALID, f"could not check {spec}: {exc}")
    return Readiness(spec, found.state, found.message, found.fix)


def refusal_lines(items: Iterable[Readiness],
                  describe: Callable[[Readiness], str] = Readiness.describe) -> list[str]:
    """``TARGET: what would make it runnable`` for each item that cannot run, each line
    once; ``describe`` words an item (the web page adds its Settings tab)."""
    return list(dict.fromkeys(f"{i.target}: {describe(i)}" for i in items if not i.ready))


def refusal_message(items: Iterable[Readiness]) -> str:
    """One message naming each target that cannot run and what would make it runnable
    ("" when every item is ready). Identical lines are given once."""
    lines = refusal_lines(items)
    return f"{REFUSAL_HEAD}\n  " + "\n  ".join(lines) if lines else ""


def _public_refusal(name: str, instance: Provider, model: str) -> Readiness | None:
    """A public server's refusal (a local path, Ollama without OLLAMA_HOST), before any
    probe: the answer must not depend on what exists on the server."""
    if why := instance.public_refusal(model):
        return Readiness(name, REFUSED, why)
    return None


def _configuration(name: str, instance: Provider) -> Readiness | None:
    """Retired, missing variables or missing packages, from the provider's own lists."""
    if (spec := SPECS.get(instance.id)) is not None and spec.retired:
        return Readiness(name, RETIRED, retired_message(), RETIRED_FIX)
    gap = instance.configuration_gap()
    if gap is None:
        return None
    if gap.settings:
        names = " and ".join(gap.settings)
        return Readiness(name, NEEDS_KEY, gap.reason or f"needs {names}",
                         f"set {names} in the environment or .env")
    return Readiness(name, NEEDS_PACKAGE, f"needs the {' and '.join(gap.packages)} "
                     "package(s)", instance.install_hint)


def _provider_probe(instance: Provider) -> Readiness:
    pid = instance.id
    if pid == "ollama":
        return _ollama(instance, None)
    if pid == "openai":
        return _openai_server(instance)
    if pid == "onnx":
        present = instance.available()  # type: ignore[attr-defined]
        if not present:
            return Readiness(pid, NOT_DOWNLOADED, "no ONNX model downloaded yet",
                             "python -m playground models download phi-3.5-mini")
        return Readiness(pid, READY, f"ready ({len(present)} model(s): {', '.join(present)})")
    return Readiness(pid, READY, "ready")


def _target_probe(instance: Provider, model: str) -> Readiness:
    name = f"{instance.id}:{model}"
    if instance.id == "ollama":
        return _ollama(instance, model)
    if instance.id == "openai":
        return _openai_server(instance)
    if instance.id == "onnx":
        return _onnx_model(instance, model)
    if instance.id == "transformers":
        # As the provider reads NAME: an existing folder, else ``owner/name`` is a Hub id
        # (its cache is the provider's own concern), else a folder that is missing.
        folder = Path(model).expanduser()
        hub_id = not model.startswith((".", "/", "~")) and model.count("/") == 1
        if (folder.is_dir() or not hub_id) and not (folder / "config.json").is_file():
            return Readiness(name, NOT_DOWNLOADED, f"no Transformers model folder at "
                             f"{folder} (a folder with config.json)",
                             "put the model's folder there, or use a Hub id already in "
                             "the Hugging Face cache")
    return Readiness(name, READY, "ready")


def _onnx_model(instance: Provider, model: str) -> Readiness:
    name = f"onnx:{model}"
    root: Path = instance.models_dir  # type: ignore[attr-defined]
    is_path = "/" in model or "\\" in model
    folder = Path(model).expanduser() if is_path else root / model
    if (folder / "genai_config.json").is_file():
        return Readiness(name, READY, "ready")
    if not is_path and lookup("onnx", model):
        partial = (root / f".{model}.partial").is_dir()
        message = (f"the download of {model} is incomplete" if partial
                   else f"{model} is not downloaded")
        return Readiness(name, NOT_DOWNLOADED, message,
                         f"python -m playground models download {model}")
    return Readiness(name, NOT_DOWNLOADED,
                     f"no ONNX model folder at {folder} (a folder with genai_config.json)",
                     "see `python -m playground models list` for models you can download")


def _ollama(instance: Provider, model: str | None) -> Readiness:
    from ollama._client import _parse_host  # the SDK's own reading of OLLAMA_HOST

    host = _parse_host(instance.setting("OLLAMA_HOST"))
    probe = probes.ollama(host)
    name = f"ollama:{model}" if model is not None else "ollama"
    if not probe.up:
        return Readiness(name, SERVER_DOWN, probe.down_message("Ollama", host),
                         "start `ollama serve`, or set OLLAMA_HOST to a running server")
    if model is None:
        count = f" ({len(probe.tags)} model(s))" if probe.tags is not None else ""
        return Readiness(name, READY, f"ready: Ollama answers at {host}{count}")
    if probe.tags is not None and not any(same_ollama_model(t, model) for t in probe.tags):
        return Readiness(name, NOT_DOWNLOADED, f"Ollama at {host} does not have {model!r}",
                         f"ollama pull {model}")
    return Readiness(name, READY, "ready")


def _openai_server(instance: Provider) -> Readiness:
    base = (instance.setting("OPENAI_COMPAT_BASE_URL") or "").rstrip("/")
    probe = probes.openai_server(base, instance.setting("OPENAI_COMPAT_API_KEY"))
    if not probe.up and not probe.detail.startswith("no answer"):
        return Readiness("openai", SERVER_DOWN,
                         probe.down_message("The OpenAI-compatible server", base),
                         "start the server, or set OPENAI_COMPAT_BASE_URL to one that runs")
    # A slow answer is not a dead server: a remote one may be far away.
    return Readiness("openai", READY, "ready")


__all__ = ["REFUSAL_HEAD", "Readiness", "STATES", "UNCONFIGURED", "clear_probe_cache", "provider_readiness",
           "refusal_lines", "refusal_message", "same_ollama_model", "target_readiness"]
