#!/usr/bin/env bash
# gVisor for policies that ask `sandbox: {runtime: gvisor}`: install Debian's runsc and
# register it with the running Docker engine as the runtime `runsc`.
# Idempotent. Never restarts dockerd: the runtime is merged into its daemon.json (other
# keys kept; a file that is not valid JSON is left alone, and this fails) and dockerd is
# sent SIGHUP, which reloads its runtimes. Optional: Rempart works without it (runc).
set -euo pipefail

RUNSC=/usr/bin/runsc
# --network=none: the sandbox's network is always `none` (egress goes through a unix
# socket), and runsc 2022's root-netns test misfires on kernels >= 6.x (it looks for
# /proc/sys/net/core/rmem_default, which every netns has there).
# --host-uds=open: the in-sandbox forwarder connects to the egress proxy's socket, the one
# host socket the sandbox is given (read-only volume); it cannot create host sockets.
# No --oci-seccomp: runsc 2022 turns the profile's ENOSYS for clone3 into EPERM, and glibc
# then cannot start threads (it falls back to clone only on ENOSYS).
ARGS='["--network=none", "--host-uds=open"]'
registered() { docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; }

if [ "$(id -u)" != 0 ]; then
  registered && exit 0
  echo "rempart: gVisor is not registered with the engine; as root run: bash scripts/gvisor.sh" >&2
  exit 1
fi
if [ ! -x "$RUNSC" ]; then
  echo "rempart: installing Debian's runsc (gVisor) ..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runsc >/dev/null
fi
"$RUNSC" --version >/dev/null

# the engine the docker CLI talks to: the pid in its pidfile (other dockerds may run,
# with pidfiles of their own), else the only dockerd
pid=""
pidfile="${REMPART_DOCKERD_PIDFILE:-/var/run/docker.pid}"
if [ -r "$pidfile" ]; then
  pid="$(cat "$pidfile")"
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || pid=""
fi
if [ -z "$pid" ]; then
  read -r -a pids <<<"$(pidof dockerd || true)"
  if [ "${#pids[@]}" != 1 ]; then
    echo "rempart: cannot tell which dockerd to register runsc with (${#pids[@]} running, no $pidfile); set REMPART_DOCKERD_PIDFILE" >&2
    exit 1
  fi
  pid="${pids[0]}"
fi
# the engine's own config file: --config-file if it was started with one
config=/etc/docker/daemon.json
mapfile -d '' args <"/proc/$pid/cmdline"
for i in "${!args[@]}"; do
  case "${args[$i]}" in
    --config-file=*) config="${args[$i]#--config-file=}" ;;
    --config-file) config="${args[$((i + 1))]}" ;;
  esac
done
mkdir -p "$(dirname "$config")"
merge='
import json, os, sys, tempfile

path, runsc, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
try:
    with open(path, encoding="utf-8") as f:
        text = f.read()
except FileNotFoundError:
    text = ""
try:
    doc = json.loads(text) if text.strip() else {}
except json.JSONDecodeError as exc:
    sys.exit(f"rempart: {path} is not valid JSON ({exc}); fix it, nothing was changed")
if not isinstance(doc, dict) or not isinstance(doc.get("runtimes", {}), dict):
    sys.exit(f"rempart: {path} is not what dockerd reads; nothing was changed")
runtimes = doc.setdefault("runtimes", {})
entry = {"path": runsc, "runtimeArgs": args}
if runtimes.get("runsc") == entry:
    sys.exit(0)
runtimes["runsc"] = entry
fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".daemon.json.")
with os.fdopen(fd, "w", encoding="utf-8") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
os.chmod(tmp, 0o644)
os.replace(tmp, path)
print("changed")
'
changed="$(python3 -c "$merge" "$config" "$RUNSC" "$ARGS")"
if [ -z "$changed" ] && registered; then
  exit 0
fi
kill -HUP "$pid"  # dockerd reloads its runtimes; running containers are not touched
for _ in $(seq 1 30); do
  registered && break
  sleep 0.5
done
if ! registered; then
  echo "rempart: dockerd did not pick up the runsc runtime after SIGHUP; see its log" >&2
  exit 1
fi
echo "rempart: gVisor registered with the engine as runtime runsc ($("$RUNSC" --version | head -1))" >&2
