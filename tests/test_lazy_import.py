"""providers.lazy: a module loaded on first use is whole for every thread that touches it
first at the same moment (the engine prepares targets in worker threads)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import REPO

SLOW_MODULE = "import time\ntime.sleep(0.3)  # a big SDK's import\nVALUE = 42\n"

THREADS = textwrap.dedent("""
    import sys, threading
    sys.path.insert(0, sys.argv[1])
    from providers.lazy import lazy_import
    slow = lazy_import("slow_sdk")
    seen, start = [], threading.Barrier(4)

    def touch():
        start.wait()
        try:
            seen.append(slow.VALUE)
        except AttributeError as exc:
            seen.append(repr(exc))

    threads = [threading.Thread(target=touch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(seen)
""")


def test_threads_that_touch_a_lazy_module_first_together_all_see_it_whole(tmp_path) -> None:
    (tmp_path / "slow_sdk.py").write_text(SLOW_MODULE)
    out = subprocess.run([sys.executable, "-c", THREADS, str(tmp_path)], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[42, 42, 42, 42]"


def test_a_missing_module_is_named_at_once() -> None:
    import pytest

    from providers.lazy import lazy_import
    with pytest.raises(ModuleNotFoundError, match="no_such_sdk_here"):
        lazy_import("no_such_sdk_here")
