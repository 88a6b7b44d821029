"""Run the all-provider fake server in its own process (benchmarks, manual demos).

``python -m fake_services.serve [--behaviours FILE.json] [--port N]`` prints one JSON line
with the environment variables that point the playground at it, then serves until
interrupted. FILE.json: ``{"default": {...Behaviour fields}, "models": {id: {...}}}``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import replace

from fake_services.server import FakeServer
from fake_services.services import Behaviour, Behaviours, wire_all


def load_behaviours(path: str | None) -> Behaviours:
    if not path:
        return Behaviours()
    with open(path, encoding="utf-8") as handle:
        spec = json.load(handle)
    behaviours = Behaviours(default=replace(Behaviour(), **spec.get("default", {})))
    for model, fields in spec.get("models", {}).items():
        behaviours.set(model, **fields)
    return behaviours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--behaviours")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = FakeServer()
    server.port = args.port
    with server:
        print(json.dumps(wire_all(server, load_behaviours(args.behaviours))), flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    sys.exit(0)


if __name__ == "__main__":
    main()
