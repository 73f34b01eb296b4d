#!/usr/bin/env bash
# Prepares a fresh machine: system packages, the virtualenv, and the FerretDB wrapper binary.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
[ "${1:-}" = "--browser" ] && want_browser=1

need_apt=()
command -v redis-server >/dev/null 2>&1 || [ -n "${REDIS_URL:-}" ] || need_apt+=(redis-server)
if [ "$want_browser" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  need_apt+=(chromium)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; then
    echo "setup: please install: ${need_apt[*]}" >&2
    exit 1
  fi
  sudo_cmd=""
  [ "$(id -u)" != 0 ] && sudo_cmd="sudo"
  echo "setup: installing ${need_apt[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$python" -m venv .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi

if [ -z "${MONGODB_URL:-}" ]; then
  bin=.data/bin/ferretdb
  if [ ! -x "$bin" ] || [ -n "$(find scripts/ferretdb -newer "$bin" -type f | head -1)" ]; then
    command -v go >/dev/null 2>&1 || { echo "setup: Go is needed to build FerretDB (or set MONGODB_URL)" >&2; exit 1; }
    echo "setup: building the embedded FerretDB (first run only)"
    mkdir -p .data/bin
    (cd scripts/ferretdb && go build -o ../../.data/bin/ferretdb .)
  fi
fi

# helm for the chart tests (tests/integration/test_deploy_helm.py), cached outside the checkout; `make run` needs none.
if [ "$want_browser" = 1 ]; then
  bash scripts/build_helm.sh >/dev/null || echo "setup: helm could not be built; the chart tests need it" >&2
fi

# The pulumi engine runs (and its tests drive) the real pulumi CLI: built once, cached outside the checkout.
# `make run` uses the offline engine unless ENGINE=pulumi, so a newcomer's first run does not wait for it.
if [ -z "${PULUMI_COMMAND:-}" ] && { [ "$want_browser" = 1 ] || [ "${ENGINE:-offline}" = pulumi ]; }; then
  bash scripts/build_pulumi.sh >/dev/null
fi
