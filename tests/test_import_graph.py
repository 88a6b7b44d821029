"""Every module of our packages imports on its own, and their import graph has no cycle.

The graph is read from the source (``ast``): every ``import`` of one of our modules,
including those inside functions and under ``TYPE_CHECKING``, is an edge, so a cycle
hidden behind a late import fails here too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("providers", "playground")


def our_modules() -> dict[str, Path]:
    """Module name -> file, for every module of PACKAGES."""
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (``from package import module`` counts
    as importing that module; a name from a module as importing the module)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if full in modules:
                        edges.add(full)
                    elif node.module in modules:
                        edges.add(node.module)
        graph[name] = edges - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path ``[a, b, ..., a]``, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_our_import_graph_has_no_cycle() -> None:
    graph = import_graph(our_modules())
    assert len(graph) > 60  # the walk found the packages
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_every_module_imports_alone() -> None:
    # One fresh interpreter per module would take minutes on two cores: one interpreter
    # forgets every module of ours after each import, so each one is imported with none
    # of ours loaded before it (third-party modules stay: they are not under test).
    names = [n for n in our_modules() if not n.endswith("__main__")]
    script = ("import importlib, sys\nfor name in sys.argv[1:]:\n"
              "    before = set(sys.modules)\n    importlib.import_module(name)\n"
              "    for extra in set(sys.modules) - before:\n"
              "        if extra.split('.')[0] in ('providers', 'playground'):\n"
              "            del sys.modules[extra]\n")
    result = subprocess.run([sys.executable, "-c", script, *names], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


def test_the_cli_help_imports_no_sdk() -> None:
    # What keeps `python -m playground --help` fast: no SDK, no pandas, no Gradio.
    code = ("import sys, runpy\nsys.argv = ['playground', '--help']\n"
            "try:\n    runpy.run_module('playground', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print(' '.join(sorted(sys.modules)), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert "usage: python -m playground" in result.stdout
    loaded = {name.split(".")[0] for name in result.stderr.split()}
    heavy = {"openai", "azure", "ollama", "httpx", "pandas", "gradio", "onnxruntime_genai",
             "torch"}
    assert not loaded & heavy, loaded & heavy


def test_reading_every_provider_declaration_runs_no_sdk() -> None:
    # The registry reads each SPEC by importing the provider's module: those modules may
    # name an SDK (a lazy placeholder, providers.lazy) but must not run it, nor httpx,
    # Pillow or numpy, so that Settings (which needs the secret names) stays cheap.
    code = ("import sys\nfrom providers.registry import SPECS, secret_names\n"
            "assert len(list(SPECS.values())) == len(SPECS) and secret_names()\n"
            "print(' '.join(sorted(n for n, m in list(sys.modules.items())\n"
            "                      if type(m).__name__ != '_LazyModule')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = {name.split(".")[0] for name in result.stdout.split()}
    assert "providers" in loaded
    heavy = {"openai", "azure", "ollama", "httpx", "httpx2", "httpcore", "PIL", "numpy",
             "pandas", "gradio", "onnxruntime_genai", "torch", "transformers"}
    assert not loaded & heavy, loaded & heavy
