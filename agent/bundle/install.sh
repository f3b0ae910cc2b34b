#!/usr/bin/env bash
# Bootstrap of a Rempart offline bundle, run on the site with no network:
#   sudo ./install.sh --pubkey KEY.pub [--prefix DIR] [other `rempart bundle install` options]
# Checks SHA256SUMS and its signature with coreutils and ssh-keygen before any code from
# the bundle runs, installs Rempart's wheel into DIR (default /opt/rempart) with
# `pip --no-index` (every hash checked), then hands over to `rempart bundle install`,
# which checks everything again and installs the rest (host packages, image, model, vLLM).
set -euo pipefail
bundle="$(cd "$(dirname "$0")" && pwd)"
prefix=/opt/rempart pubkey="" insecure=0
args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --pubkey) pubkey="$2"; shift 2 ;;
    --insecure) insecure=1; shift ;;
    *) shift ;;
  esac
done
if [ -n "$pubkey" ] && [ -f "$bundle/SHA256SUMS.sig" ]; then
  key=($(cat "$pubkey"))
  signers="$(mktemp)"
  trap 'rm -f "$signers"' EXIT
  echo "rempart-bundle namespaces=\"rempart-bundle\" ${key[0]} ${key[1]}" >"$signers"
  ssh-keygen -Y verify -f "$signers" -I rempart-bundle -n rempart-bundle \
    -s "$bundle/SHA256SUMS.sig" <"$bundle/SHA256SUMS" >&2 ||
    { echo "install.sh: SHA256SUMS.sig is not a valid signature by $pubkey: refusing" >&2; exit 8; }
elif [ "$insecure" = 1 ]; then
  echo "install.sh: INSECURE: signature not checked" >&2
elif [ -n "$pubkey" ]; then
  echo "install.sh: the bundle is not signed (no SHA256SUMS.sig); --insecure installs it anyway" >&2
  exit 8
else
  echo "install.sh: pass --pubkey KEY.pub (the bundle maker's public key)" >&2
  exit 8
fi
(cd "$bundle" && sha256sum --quiet --strict -c SHA256SUMS) ||
  { echo "install.sh: the files named above do not match SHA256SUMS: refusing" >&2; exit 8; }
# and nothing more than it lists (an extra wheel must not reach pip)
extra="$(cd "$bundle" && LC_ALL=C comm -13 <(sed 's/^[0-9a-f]*  //' SHA256SUMS | LC_ALL=C sort) \
  <(find . ! -type d ! -name SHA256SUMS ! -name SHA256SUMS.sig -printf '%P\n' | LC_ALL=C sort))"
if [ -n "$extra" ]; then
  echo "install.sh: not in SHA256SUMS, refusing: $(echo $extra)" >&2
  exit 8
fi
# pip takes the bundle as its only source: none of this host's pip settings
for name in $(env | sed -n 's/^\(PIP_[A-Z_]*\)=.*/\1/p'); do unset "$name"; done
export PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1
python3 -m venv "$prefix"
pip=("$prefix/bin/python" -m pip install --quiet --no-index --find-links "$bundle/wheels")
"${pip[@]}" --require-hashes -r "$bundle/requirements/build.lock"
"${pip[@]}" --require-hashes --no-build-isolation -r "$bundle/requirements/runtime.lock"
"${pip[@]}" --no-deps "$bundle"/wheels/rempart-*.whl
exec "$prefix/bin/rempart" bundle install "$bundle" "${args[@]}"
