#!/usr/bin/env bash
# Bootstrap of a Rempart offline bundle, run on the site with no network:
#   sudo ./install.sh --pubkey KEY.pub [--prefix DIR] [--no-host-packages] [--no-doctor]
# This script comes from the bundle: check the bundle by hand FIRST, with the commands of
# docs/airgap.md ("Check the bundle before running anything from it"), then run it.
# It copies the bundle into a fresh root-only staging folder (refusing symlinks and
# anything that is not a plain file or folder), checks the copy's SHA256SUMS signature
# with ssh-keygen, every file with sha256sum and that no other file is there, installs
# Rempart's wheel (its hash from SHA256SUMS) into DIR (default /opt/rempart) with
# `pip --no-index --require-hashes`, then hands the same copy to `rempart bundle install`,
# which checks it again and installs the rest (host packages, image, model, vLLM).
# Nothing is read from the medium after the copy.
set -euo pipefail
umask 077
unset PYTHONPATH PYTHONHOME  # only the prefix's own packages, not the caller's
die() { echo "install.sh: $*" >&2; exit 8; }
bundle="$(cd "$(dirname "$0")" && pwd -P)"
prefix=/opt/rempart pubkey="" insecure=0 downgrade=0
passed=()
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix=*) prefix="${1#*=}"; shift ;;
    --pubkey=*) pubkey="${1#*=}"; shift ;;
    --prefix | --pubkey)
      [ $# -ge 2 ] || die "$1 needs a value"
      if [ "$1" = --prefix ]; then prefix="$2"; else pubkey="$2"; fi
      shift 2 ;;
    --insecure) insecure=1; shift ;;
    --allow-downgrade) downgrade=1; passed+=("$1"); shift ;;
    --no-host-packages | --no-doctor) passed+=("$1"); shift ;;
    *) die "unknown option $1 (known: --pubkey KEY.pub, --prefix DIR, --insecure, --no-host-packages, --no-doctor, --allow-downgrade)" ;;
  esac
done
[ -n "$prefix" ] || die "--prefix needs a value"
prefix="$(realpath -m -- "$prefix")"  # absolute: the rest runs inside the staging copy
if [ -n "$pubkey" ] && [ "$insecure" = 1 ]; then
  die "--pubkey and --insecure together: pass one (--insecure skips the signature)"
fi
[ "$insecure" = 1 ] || [ -n "$pubkey" ] || die "pass --pubkey KEY.pub (the bundle maker's public key)"
if [ -n "$pubkey" ]; then
  [ -f "$pubkey" ] || die "public key $pubkey not found"
  pubkey="$(realpath -- "$pubkey")"
  read -r -a key <"$pubkey" || true
  [ "${#key[@]}" -ge 2 ] || die "$pubkey is not an SSH public key"
fi

# 1. a private copy: what is checked is what is installed (nothing re-read from the medium)
odd="$(find "$bundle" -mindepth 1 \( -type l -o ! -type f ! -type d -o -name '*[\\
]*' \) -printf '%P\n')"
[ -z "$odd" ] || die "not plain files, or odd names, refusing: $(echo $odd)"
need=$(du -sb --apparent-size "$bundle" | cut -f1)
base=/var/tmp
parent="$(dirname "$prefix")"
[ -d "$parent" ] && [ "$(df -P -B1 "$parent" | awk 'NR==2 {print $4}')" -gt "$need" ] && base="$parent"
free=$(df -P -B1 "$base" | awk 'NR==2 {print $4}')
[ "$free" -gt "$need" ] ||
  die "the staging copy needs $need bytes, $base has $free free: free some space (or pick --prefix on a larger disk)"
stage="$(mktemp -d "$base/rempart-bundle.XXXXXXXX")"
trap 'rm -rf "$stage"' EXIT
chmod 700 "$stage"
echo "install.sh: copying the bundle into $stage ($need bytes)" >&2
cp -R --no-preserve=all -- "$bundle/." "$stage/"
cd "$stage"
odd="$(find . -mindepth 1 \( -type l -o ! -type f ! -type d \) -printf '%P\n')"
[ -z "$odd" ] || die "not plain files (changed during the copy?), refusing: $(echo $odd)"

# 2. the signature, over the copy's SHA256SUMS
[ -f SHA256SUMS ] || die "no SHA256SUMS: not a finished bundle"
if [ -n "$pubkey" ] && [ -f SHA256SUMS.sig ]; then
  signers="$stage/.allowed_signers"
  echo "rempart-bundle namespaces=\"rempart-bundle\" ${key[0]} ${key[1]}" >"$signers"
  ssh-keygen -Y verify -f "$signers" -I rempart-bundle -n rempart-bundle \
    -s SHA256SUMS.sig <SHA256SUMS >&2 ||
    die "SHA256SUMS.sig is not a valid signature by $pubkey: refusing"
  rm -f "$signers"
elif [ -n "$pubkey" ]; then
  die "the bundle is not signed (no SHA256SUMS.sig); --insecure (without --pubkey) installs it anyway"
else
  echo "install.sh: INSECURE: signature not checked" >&2
fi

# 3. every listed file, and nothing more (an extra wheel must not reach pip)
sha256sum --quiet --strict -c SHA256SUMS ||
  die "the files named above do not match SHA256SUMS: refusing"
listed="$(sed 's/^[0-9a-f]*  //' SHA256SUMS | LC_ALL=C sort)"
files="$(find . -type f ! -path ./SHA256SUMS ! -path ./SHA256SUMS.sig -printf '%P\n' | LC_ALL=C sort)"
extra="$(LC_ALL=C comm -13 <(echo "$listed") <(echo "$files"))"
[ -z "$extra" ] || die "not in SHA256SUMS, refusing: $(echo $extra)"
# every folder holds a listed file (no empty folder for a tool to find things in later)
dirs="$(echo "$listed" | awk -F/ '{p=""; for (i=1; i<NF; i++) {p=p (i>1?"/":"") $i; print p}}' | LC_ALL=C sort -u)"
found="$(find . -mindepth 1 -type d -printf '%P\n' | LC_ALL=C sort)"
extra="$(LC_ALL=C comm -13 <(echo "$dirs") <(echo "$found"))"
[ -z "$extra" ] || die "folders with no listed file, refusing: $(echo $extra)"

# 4. Rempart's wheel, pinned to its hash in the (signed) SHA256SUMS
wheel="$(grep -E '^[0-9a-f]{64}  wheels/rempart-[^/ ]+\.whl$' SHA256SUMS || true)"
[ "$(echo "$wheel" | grep -c .)" = 1 ] || die "SHA256SUMS must list exactly one wheels/rempart-*.whl"
echo "rempart @ file://$stage/${wheel#*  } --hash=sha256:${wheel%%  *}" >rempart.req

# 5. no silent rollback: a bundle older than the Rempart installed at the prefix is refused
if [ "$downgrade" = 0 ] && [ -x "$prefix/bin/python" ]; then
  "$prefix/bin/python" -I - <<'EOF' || die "refusing a downgrade (--allow-downgrade installs it anyway)"
import importlib.metadata, json, sys
from packaging.version import Version
bundled = json.load(open("bundle.json"))["rempart_version"]
try:
    current = importlib.metadata.version("rempart")
except importlib.metadata.PackageNotFoundError:
    sys.exit(0)
if Version(bundled) < Version(current):
    sys.exit(f"install.sh: the bundle holds Rempart {bundled}, older than the installed {current}")
EOF
fi

# pip takes the copy as its only source: none of this host's pip settings
for name in $(env | sed -n 's/^\(PIP_[A-Z_]*\)=.*/\1/p'); do unset "$name"; done
export PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1
python3 -m venv "$prefix"
pip=("$prefix/bin/python" -m pip install --quiet --no-index --find-links "$stage/wheels")
"${pip[@]}" --require-hashes -r requirements/build.lock
"${pip[@]}" --require-hashes --no-build-isolation -r requirements/runtime.lock
"${pip[@]}" --require-hashes --no-deps --force-reinstall -r rempart.req
rm -f rempart.req
security=(--pubkey "$pubkey")
[ "$insecure" = 0 ] || security=(--insecure)
"$prefix/bin/rempart" bundle install "$stage" --staged --prefix "$prefix" "${security[@]}" "${passed[@]}"
