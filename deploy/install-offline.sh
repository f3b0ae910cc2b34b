#!/usr/bin/env bash
# Kept for old instructions: a bundle installs itself with its own bootstrap, which checks
# the sums and the signature, then runs `rempart bundle install` (docs/airgap.md).
# Usage: deploy/install-offline.sh BUNDLE --pubkey KEY.pub [--prefix DIR]
set -euo pipefail
bundle="${1:?usage: deploy/install-offline.sh BUNDLE --pubkey KEY.pub [--prefix DIR]}"
shift
exec bash "$bundle/install.sh" "$@"
