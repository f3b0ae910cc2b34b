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


# Where Rempart keeps its files: the XDG base directories, each overridden by its own
# REMPART_*_DIR variable. `agent.settings.Settings` takes its defaults from here, so the
# sandbox (which cannot import the agent) and the agent always agree. Created by callers.


def data_dir() -> Path:
    """Sessions, the audit log, models, vLLM's virtualenv (`REMPART_DATA_DIR`)."""
    return _override("REMPART_DATA_DIR") or platformdirs.user_data_path("rempart")


def cache_dir() -> Path:
    """What can be fetched or built again: model parts, the debootstrap rootfs."""
    return _override("REMPART_CACHE_DIR") or platformdirs.user_cache_path("rempart")


def state_dir() -> Path:
    """Logs (Rempart's own and the model server's)."""
    return _override("REMPART_STATE_DIR") or platformdirs.user_state_path("rempart")


def runtime_dir() -> Path:
    """Pid and state files of running processes; `$XDG_RUNTIME_DIR/rempart`, or the state
    folder's `run/` where there is no runtime dir (root in a container, cron)."""
    override = _override("REMPART_RUNTIME_DIR")
    if override is not None:
        return override
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    return Path(xdg) / "rempart" if xdg else state_dir() / "run"


def _override(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None
