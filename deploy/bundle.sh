#!/usr/bin/env bash
# Kept for old instructions: the offline bundle is made by `rempart bundle create` now
# (signed, resumable, progress bars; docs/airgap.md). Usage: deploy/bundle.sh OUT --key KEY
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
exec "$root/.venv/bin/rempart" bundle create "$@"
