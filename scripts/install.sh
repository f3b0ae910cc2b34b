#!/usr/bin/env bash
# Rempart's own virtualenv (.venv) with its dependencies and the dev tools; idempotent.
# Exactly the files pinned in requirements/dev.lock (sha256 checked), then Rempart itself
# (editable, --no-deps: nothing is resolved here). scripts/lock regenerates the locks.
set -euo pipefail
cd "$(dirname "$0")/.."
# debootstrap builds the sandbox image from Debian packages; docker-compose validates deploy/;
# setfacl gives the sandbox's non-root user access to a root-owned workspace.
missing=()
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v setfacl >/dev/null 2>&1 || missing+=(acl)
# postgresql: the PostgreSQL store's tests start a throw-away server (tests/agent/pg.py).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
# openssl: the TLS engine tests make a CA and certificates (tests/sandbox/test_engines_tls.py).
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
  echo "rempart: installing ${missing[*]} (Debian packages) ..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --require-hashes)
"${pip[@]}" -r requirements/build.lock
"${pip[@]}" --no-build-isolation -r requirements/dev.lock
.venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
