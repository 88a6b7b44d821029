"""One error hierarchy for every provider, translated once at the SDK boundary.

Each :class:`ProviderError` has a ``kind`` (the table's ``error_kind``) and a message
written for people: what happened, and what to do about it.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

from providers.registry import working_routes

GITHUB_RETIREMENT_DATE = "2026-07-30"  # GitHub's changelog, "GitHub Models retirement"


def retired_message() -> str:
    """What a retired route (GitHub Models) answers, naming the routes that still work.

    Built when asked, from the registry (never a hand-kept list): the registry reads each
    provider's declaration from its module, and those modules import this one."""
    return (f"GitHub Models was retired by GitHub on {GITHUB_RETIREMENT_DATE}; every call "
            f"now answers HTTP 410. Use a route that still works: {working_routes()}.")


class ProviderError(Exception):
    """Base of every provider failure. ``kind`` names the cause."""

    kind: ClassVar[str] = "error"

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.retry_after_s = retry_after_s


class ConfigError(ProviderError):
    """A required setting (key, endpoint) is missing or invalid."""

    kind = "config"


class AuthError(ProviderError):
    """The service rejected the credentials (401) or the permission (403)."""

    kind = "auth"


class NotFoundError(ProviderError):
    """Unknown model, deployment or endpoint (404)."""

    kind = "not_found"


class RateLimitError(ProviderError):
    """Too many requests (429); ``retry_after_s`` when the service says."""

    kind = "rate_limit"


class RetiredError(ProviderError):
    """The service or route no longer exists (GitHub Models' 410)."""

    kind = "retired"


class ProviderTimeoutError(ProviderError):
    """Nothing arrived within the configured timeout."""

    kind = "timeout"


class UnavailableError(ProviderError):
    """The service cannot be reached or is failing (connection refused, 5xx)."""

    kind = "unavailable"


class BadRequestError(ProviderError):
    """The service refused the request itself (400, 413, 422, content filter)."""

    kind = "bad_request"


class BadResponseError(ProviderError):
    """The service answered something we cannot use (malformed or cut-off stream)."""

    kind = "bad_response"


class CutOffError(BadResponseError):
    """The stream ended without a finish reason. ``empty`` when not one chunk came."""

    def __init__(self, message: str, *, empty: bool) -> None:
        super().__init__(message)
        self.empty = empty


class UnsupportedInputError(ProviderError):
    """The input cannot go to this model (images to a text-only model, too large)."""

    kind = "unsupported_input"


def error_class(kind: str) -> type[ProviderError]:
    """The error class of this module whose ``kind`` is ``kind`` (a failure reported
    by kind alone, as the ``onnx`` worker does); BadResponseError for a kind no class has."""
    # Only the classes that name a kind of their own (CutOffError is a BadResponseError).
    by_kind = {cls.kind: cls for cls in _subclasses(ProviderError)
               if cls.__module__ == __name__ and "kind" in vars(cls)}
    return by_kind.get(kind, BadResponseError)


def _subclasses(cls: type[ProviderError]) -> list[type[ProviderError]]:
    return [sub for child in cls.__subclasses__() for sub in (child, *_subclasses(child))]


def server_message(body: Any) -> str:
    """The human part of an error body, whatever the vendor's shape."""
    if isinstance(body, (bytes, str)):
        text = body.decode(errors="replace") if isinstance(body, bytes) else body
        try:
            body = json.loads(text)
        except ValueError:
            return text.strip()[:300]
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, str):
            return inner
        if isinstance(inner, Mapping):
            for key in ("message", "detail", "title"):
                if inner.get(key):
                    return str(inner[key])
        for key in ("message", "detail", "title"):
            if body.get(key):
                return str(body[key])
    return "" if body is None else str(body)[:300]


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait according to ``retry-after-ms``, ``retry-after`` (seconds or an
    HTTP date) or GitHub's ``x-ratelimit-timeremaining``; None when none is usable."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lower:
        try:
            return float(lower["retry-after-ms"]) / 1000
        except ValueError:
            pass
    for name in ("retry-after", "x-ratelimit-timeremaining"):
        value = lower.get(name)
        if not value:
            continue
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                from datetime import datetime, timezone

                when = parsedate_to_datetime(value)
                return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
            except (TypeError, ValueError):
                continue
    return None


def from_status(
    status: int,
    body: Any,
    headers: Mapping[str, str] | None,
    *,
    provider: str,
    title: str,
    key_var: str | None = None,
) -> ProviderError:
    """Translate an HTTP error status and body into the matching ProviderError."""
    detail = server_message(body)
    said = f": {detail}" if detail else ""
    kw: dict[str, Any] = {"provider": provider, "status": status}
    if status in (401, 403):
        fix = f" Check {key_var}." if key_var else ""
        verb = "rejected the credentials" if status == 401 else "denied access"
        return AuthError(f"{title} {verb} (HTTP {status}){said}.{fix}", **kw)
    if status == 404:
        return NotFoundError(f"{title} does not know this model or route (HTTP 404){said}.", **kw)
    if status == 410:
        return RetiredError(f"{title} says this route is gone (HTTP 410){said}.", **kw)
    if status == 429:
        wait = retry_after_seconds(headers)
        when = f" Retry after {wait:.0f} s." if wait is not None else ""
        return RateLimitError(
            f"{title} rate limit reached (HTTP 429){said}.{when}", retry_after_s=wait, **kw
        )
    if status == 413:
        return BadRequestError(f"{title} says the request is too large (HTTP 413){said}.", **kw)
    if 400 <= status < 500:
        return BadRequestError(f"{title} refused the request (HTTP {status}){said}.", **kw)
    return UnavailableError(f"{title} failed on its side (HTTP {status}){said}.", **kw)


def is_dns_failure(exc: BaseException) -> bool:
    """True when a name lookup failed somewhere in ``exc``'s cause chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, socket.gaierror) or "Name or service not known" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def connection_error(title: str, where: str, exc: BaseException, *,
                     mid_stream: bool = False, provider: str | None = None) -> ProviderError:
    """A transport failure, worded for when it happened (before or during the stream)."""
    if mid_stream:
        return UnavailableError(f"The connection to {title} broke mid-stream "
                                f"({type(exc).__name__}: {exc}).", provider=provider)
    if is_dns_failure(exc):
        return UnavailableError(f"Cannot reach {title}: the host in {where} does not resolve "
                                "(check the URL or the network).", provider=provider)
    return UnavailableError(f"Cannot reach {title} at {where}: {exc}.", provider=provider)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value (and a bearer token echoed back) with ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return re.sub(r"(?i)(bearer\s+)[A-Za-z0-9._\-~+/]{8,}=*", r"\1***", text)
