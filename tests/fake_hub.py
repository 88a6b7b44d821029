"""A loopback stand-in for the Hugging Face Hub: the few routes ``huggingface_hub``
uses to download a repository folder (model info, tree listing, resolve with HEAD, GET
and Range), serving in-memory files. ``HF_ENDPOINT`` (or ``endpoint=``) points at it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@contextlib.contextmanager
def online_hub(monkeypatch: Any, repos: dict[str, dict[str, bytes]]) -> Iterator[FakeHub]:
    """A running FakeHub serving ``repos``, with huggingface_hub let online for the test
    (conftest sets HF_HUB_OFFLINE=1 for everything else; this fake is loopback only)."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with FakeHub(repos) as fake:
        yield fake


class FakeHub:
    """``with FakeHub({repo: {path: bytes}}) as hub:`` serves on ``hub.url``.

    ``cut_short`` names files whose GET body is cut to half (a broken download);
    ``requests`` records (method, path) of every request; while ``gate`` is cleared,
    requests wait (a slow Hub), up to 30 s.
    """

    def __init__(self, repos: dict[str, dict[str, bytes]]) -> None:
        self.repos = repos
        self.cut_short: set[str] = set()
        self.requests: list[tuple[str, str]] = []
        self.gate = threading.Event()
        self.gate.set()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hub._handle(self, body=True)

            def do_HEAD(self) -> None:
                hub._handle(self, body=False)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler, body: bool) -> None:
        path = unquote(urlsplit(request.path).path)
        self.requests.append((request.command, path))
        self.gate.wait(30)
        for repo, files in self.repos.items():
            if path in (f"/api/models/{repo}", f"/api/models/{repo}/revision/main"):
                return self._json(request, {"id": repo, "sha": COMMIT,
                                            "siblings": [{"rfilename": p} for p in files]})
            tree = f"/api/models/{repo}/tree/{COMMIT}"
            if path == tree or path.startswith(tree + "/"):
                folder = path[len(tree):].strip("/")
                return self._json(request, [
                    {"type": "file", "path": p, "size": len(data), "oid": _oid(data)}
                    for p, data in files.items() if p.startswith(folder)])
            resolve = f"/{repo}/resolve/{COMMIT}/"
            if path.startswith(resolve) and path[len(resolve):] in files:
                name = path[len(resolve):]
                return self._file(request, name, files[name], body)
        self._json(request, {"error": "Repository not found"}, status=404,
                   headers={"X-Error-Code": "RepoNotFound"})

    def _file(self, request: BaseHTTPRequestHandler, name: str, data: bytes, body: bool) -> None:
        start = 0
        ranged = request.headers.get("Range", "")
        if ranged.startswith("bytes="):
            start = int(ranged[6:].split("-")[0])
        payload = data[start:]
        if body and name in self.cut_short:
            payload = payload[: len(payload) // 2]
        request.send_response(206 if start else 200)
        request.send_header("X-Repo-Commit", COMMIT)
        request.send_header("ETag", f'"{_oid(data)}"')
        request.send_header("Content-Length", str(len(payload) if body else len(data)))
        request.send_header("Content-Type", "application/octet-stream")
        request.end_headers()
        if body:
            request.wfile.write(payload)

    @staticmethod
    def _json(request: BaseHTTPRequestHandler, value: object, status: int = 200,
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(value).encode()
        request.send_response(status)
        for key, header in (headers or {}).items():
            request.send_header(key, header)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(data)


def _oid(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()
