"""Docker engine access and the labels that mark everything Rempart creates."""

from __future__ import annotations

import os
from pathlib import Path

import docker
import platformdirs
import requests
from docker.errors import DockerException

from sandbox.errors import DockerUnavailable
from sandbox.owner import LABEL_OWNER_PID as LABEL_OWNER_PID  # the owner's labels

API_TIMEOUT_S = 30.0
# What a call to the engine raises when the engine itself fails (stopped, restarting):
# the SDK does not wrap a refused connection on its socket.
ENGINE_ERRORS: tuple[type[Exception], ...] = (DockerException, requests.RequestException)
LABEL_SESSION = "rempart.session"
LABEL_KIND = "rempart.kind"
LABEL_CREATED = "rempart.created"
LABEL_WORKSPACE = "rempart.workspace"
LABEL_SPEC = "rempart.spec"
LABEL_POOL = "rempart.pool"
KIND_SANDBOX = "sandbox"
KIND_PROXY = "egress-proxy"
KIND_VOLUME = "egress-socket"
# egress: the proxy listens on a unix socket in a session volume; the sandbox reaches it
# through a loopback forwarder (see sandbox/egress.py)
SOCKET_DIR = "/run/rempart-egress"
SOCKET_NAME = "proxy.sock"
FORWARDER_LISTEN = "127.0.0.1:3128"
# The sandbox's main process: it ends the container when its owner is gone (keeper.py),
# and with egress it also runs the forwarder to the proxy's socket.
KEEPER_COMMAND = ["python3", "/opt/rempart/keeper.py"]
KEEPER_EXIT_DETACHED = 3  # the keeper ended the container: its executor was gone
FORWARDER_ARGS = [
    "--forward-listen",
    FORWARDER_LISTEN,
    "--forward-socket",
    f"{SOCKET_DIR}/{SOCKET_NAME}",
]


def docker_client(timeout: float = API_TIMEOUT_S) -> docker.DockerClient:
    """A client for the local engine; every API call it makes times out after `timeout`."""
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except ENGINE_ERRORS as exc:
        raise DockerUnavailable(
            f"cannot reach the Docker engine: {exc}",
            hint="start dockerd, or set DOCKER_HOST; check that you may use the docker socket",
        ) from exc
    return client


def data_dir() -> Path:
    """Rempart's data folder (`REMPART_DATA_DIR` overrides); created by callers, not here."""
    override = os.environ.get("REMPART_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir("rempart"))
