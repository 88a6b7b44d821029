"""Faults a provider can produce, applied to the fakes of ``services.py``.

``ROUTES`` names every provider route the playground can take; ``inject(server, route,
fault)`` makes that route misbehave in one of the ways listed in ``FAULTS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fake_services.server import FakeServer, Recorded, Reply, Responder, json_reply
from fake_services.services import RETIRED_410, VLM_PATH


@dataclass(frozen=True)
class Route:
    """One way to reach a model: provider id, chat path on the fake, a model, env tweaks."""

    provider: str
    path: str
    model: str
    env: dict[str, str] = field(default_factory=dict)
    wire: str = "sse"  # or "ndjson"

    @property
    def target(self) -> str:
        return f"{self.provider}:{self.model}"


ROUTES = {
    "nim": Route("nim", "/nim/v1/chat/completions", "microsoft/phi-3.5-mini-instruct"),
    "nim-vlm": Route("nim", "/nim" + VLM_PATH, "microsoft/phi-3-vision-128k-instruct"),
    "azure": Route("azure", "/azure/openai/v1/chat/completions", "Phi-3.5-mini-instruct"),
    "azure-inference": Route("azure", "/serverless/chat/completions", "Phi-3.5-mini-instruct",
                             env={"AZURE_AI_ENDPOINT": "{url}/serverless"}),
    "openai": Route("openai", "/compat/v1/chat/completions", "phi-3.5-mini-instruct"),
    "github": Route("github", "/inference/chat/completions", "microsoft/phi-3.5-mini-instruct"),
    "ollama": Route("ollama", "/api/chat", "phi3.5", wire="ndjson"),
}


def vendor_error(route: str, status: int, message: str) -> tuple[object, dict[str, str]]:
    """The error body and headers each vendor sends for ``status`` (its documented shape)."""
    if route == "ollama":
        return {"error": message}, {}
    if route.startswith("nim"):
        if status == 401:  # NVCF: empty body, the reason is in WWW-Authenticate
            return "", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        return {"status": status, "title": "Error", "detail": message}, {}
    if route == "github":
        return {"error": {"code": "error", "message": message, "details": message}}, {}
    if route.startswith("azure"):
        return {"error": {"code": "Error", "message": message}}, {"x-ms-error-code": "Error"}
    return {"error": {"message": message, "type": "error", "param": None, "code": None}}, {}


def http_error(route: str, status: int, retry_after: str | None = None) -> Responder:
    """A responder failing with ``status`` in the vendor's own error shape."""
    if status == 410:
        body, headers = RETIRED_410, {}
    else:
        body, headers = vendor_error(route, status, f"fake failure {status}")
    if retry_after is not None:
        headers = {**headers, "Retry-After": retry_after}
    return lambda request: json_reply(status, body, headers)


def _is_terminator(event: bytes) -> bool:
    return (b"[DONE]" in event or b'"done":true' in event
            or (b'"finish_reason":"' in event) or b'"choices":[]' in event and b'"usage":{' in event)


def _is_lead(event: bytes) -> bool:
    """A frame before the text: Azure's prompt filter or the empty role chunk."""
    return b"prompt_filter_results" in event or (
        b'"role":"assistant"' in event and b'"content":""' in event and b'"done"' not in event)


def _lead_count(events: list[bytes]) -> int:
    count = 0
    while count < len(events) and _is_lead(events[count]):
        count += 1
    return count


def mid_stream(base: Responder, fault: str, wire: str, after: int = 2,
               stall_s: float = 3600.0) -> Responder:
    """Wrap ``base`` so that its stream breaks in the way ``fault`` names, after ``after``
    content events."""
    def respond(request: Recorded) -> Reply:
        reply = base(request)
        events = list(reply.events)
        cut = _lead_count(events) + after  # events kept before the fault
        if fault == "stall":
            return replace(reply, stall_after=cut, stall_s=stall_s)
        if fault == "reset":
            return replace(reply, reset_after=cut)
        if fault == "malformed":
            bad = b'data: {"id":"x","choices":[{"delta":{"content":"oops"\n\n' if wire == "sse" \
                else b'{"model":"phi3.5","message":{"content":"oops"\n'
            events.insert(cut, bad)
        elif fault == "error_event":
            error = (b'data: {"error":{"message":"The server had an error while processing your '
                     b'request.","type":"server_error","param":null,"code":null}}\n\n')
            if wire == "ndjson":
                error = b'{"error":"an error was encountered while running the model: unexpected EOF"}\n'
            events = events[:cut] + [error]
        elif fault == "no_terminator":
            events = [e for e in events if not _is_terminator(e)]
        elif fault == "huge":  # ignores max_tokens and keeps going
            events = events[:cut] + [events[cut]] * 3000 + events[cut:]
        elif fault == "empty":
            events = [b"data: [DONE]\n\n"] if wire == "sse" else []
        return replace(reply, events=events, at=list(reply.at)[: len(events)])
    return respond


FAULTS = ("401", "403", "404", "410", "413", "429", "429-short", "429-long", "500", "503",
          "refused", "dns", "no_headers", "stall", "reset", "malformed", "error_event",
          "no_terminator", "empty", "huge")


def inject(server: FakeServer, base_env: dict[str, str], route_name: str, fault: str, *,
           timeout_s: float) -> tuple[dict[str, str], Route]:
    """Make ``route_name`` on ``server`` (wired by ``wire_all``) misbehave; return the env
    to use and the route."""
    route = ROUTES[route_name]
    base = server.routes[("POST", route.path)]
    env = {**base_env, **{k: v.format(url=server.url) for k, v in route.env.items()}}
    if fault.isdigit() or fault.startswith("429"):
        status = int(fault[:3])
        retry = {"429": None, "429-short": "1", "429-long": "3600"}.get(fault)
        server.on("POST", route.path, http_error(route_name, status, retry))
    elif fault in ("refused", "dns"):
        host = "http://127.0.0.1:9" if fault == "refused" else "http://fake-host.invalid"
        env = {**env, **_point_route_at(route, host)}
    elif fault == "no_headers":
        server.on("POST", route.path, lambda r: replace(base(r), headers_after=timeout_s * 3))
    else:
        server.on("POST", route.path, mid_stream(base, fault, route.wire, stall_s=timeout_s * 3))
    return env, route


def _point_route_at(route: Route, host: str) -> dict[str, str]:
    variable = {"nim": "NIM_VLM_BASE_URL" if "vlm" in route.path else "NIM_BASE_URL",
                "azure": "AZURE_AI_ENDPOINT", "openai": "OPENAI_COMPAT_BASE_URL",
                "github": "GITHUB_MODELS_ENDPOINT", "ollama": "OLLAMA_HOST"}[route.provider]
    suffix = {"azure": "/openai/v1", "nim": "/v1", "openai": "/v1", "github": "/inference",
              "ollama": ""}[route.provider]
    if "vlm" in route.path:
        suffix = "/v1/vlm"
    if route.env.get("AZURE_AI_ENDPOINT"):
        suffix = "/serverless"
    return {variable: host + suffix}
