#!/usr/bin/env bash
# Rempart's own virtualenv (.venv) with its dependencies and the dev tools; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v debootstrap >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "rempart: installing debootstrap (builds the sandbox image from Debian packages) ..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
.venv/bin/python -m pip install --quiet -e '.[dev]'
