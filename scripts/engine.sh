#!/usr/bin/env bash
# Make sure a Docker engine answers: start dockerd if it is installed but not running,
# install Debian's docker.io first if it is missing. Never pulls an image.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "rempart: the Docker engine is missing; install it (Debian: apt-get install docker.io) and run this again" >&2
    exit 1
  fi
  echo "rempart: installing Debian's docker.io (the engine) ..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "rempart: the Docker engine is installed but not running: start it (systemctl start docker)" >&2
    exit 1
  fi
  echo "rempart: starting dockerd in the background (log: /var/log/rempart-dockerd.log) ..." >&2
  nohup dockerd >/var/log/rempart-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
fi
docker info >/dev/null 2>&1 || { echo "rempart: dockerd did not start; see /var/log/rempart-dockerd.log" >&2; exit 1; }
