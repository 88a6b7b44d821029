#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run it.
# Usage: bash tests/run.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
# The optional Transformers provider is tested too (CPU torch; pip finds the wheel locally).
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements-transformers.txt
# The realserver tests start a real llama.cpp server (llama-cpp-python). PyPI has only its
# source: the first install builds it with cmake (~15 min on 2 cores, on every core);
# later installs on the same machine take the wheel from pip's cache in seconds.
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
.venv/bin/pip install --quiet --disable-pip-version-check \
  -r requirements.txt -r requirements-llamacpp.txt

# Browser tests drive Debian's Chromium (Playwright's own browser download is not
# reachable here), and draw Chinese with Noto CJK (without it the lesson's Chinese shows
# as boxes and tests/browser/test_look_browser.py fails). Install what is missing when
# we are allowed to.
# The store's tests start a real PostgreSQL (Debian's postgresql: initdb + pg_ctl in a
# temporary cluster, tests/pg_support.py).
has_postgres() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fc-list 2>/dev/null | grep -q "Noto Sans CJK" || missing+=(fonts-noto-cjk)
has_postgres || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
      || echo "warning: could not install ${missing[*]}; browser or PostgreSQL tests will fail" >&2
  else
    echo "warning: ${missing[*]} missing and cannot be installed here; browser tests will fail" >&2
  fi
fi
# Without PostgreSQL its tests fail, saying so; only when this script could not install
# it are they skipped (with this reason).
if ! has_postgres; then
  export PLAYGROUND_TEST_NO_POSTGRES="tests/run.sh could not install Debian's postgresql"
  echo "warning: $PLAYGROUND_TEST_NO_POSTGRES; the PostgreSQL tests are skipped" >&2
fi

# Lint and import order first (pyproject.toml): a finding fails the run before the tests.
.venv/bin/ruff check .

export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
