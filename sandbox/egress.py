"""Per-session egress: the allowlisting proxy, reached only through a unix socket.

The sandbox keeps `--network none`; a forwarder inside it (127.0.0.1:3128) carries
connections over the proxy's unix socket (a per-session volume, read-only in the sandbox).
An internal Docker network would still let the sandbox reach the host's own services.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time

import docker
from docker.errors import APIError, NotFound
from docker.models.containers import Container
from docker.models.volumes import Volume
from docker.types import Mount
from pydantic import BaseModel, ConfigDict, ValidationError

from policies.netrules import RULES_ENV, encode_table
from sandbox.container import labels_for
from sandbox.engine import (
    ENGINE_ERRORS,
    FORWARDER_LISTEN,
    KIND_PROXY,
    KIND_VOLUME,
    SOCKET_DIR,
    SOCKET_NAME,
)
from sandbox.errors import SandboxError
from sandbox.spec import SandboxSpec

PROXY_ARGV = ["python3", "-u", "/opt/rempart/egress_proxy.py"]
RULES_ENV_LIMIT = 120_000  # one environment string may be at most 128 KiB (MAX_ARG_STRLEN)


class EgressEvent(BaseModel):
    """One connection attempt through the proxy (for the audit log), or, with decision
    `closed`, the end of an allowed one (`conn` names it) with its byte counts."""

    model_config = ConfigDict(extra="allow")

    ts: float
    decision: str = ""
    reason: str = ""
    method: str = ""
    host: str = ""
    port: int = 0
    addr: str = ""
    client: str = ""
    target: str = ""
    policy: str = ""  # the policy's decision (policies.netrules), before the address walls
    rule: str = ""
    layer: str = ""
    tls: bool | None = None  # whether the tunnel began with a TLS ClientHello
    sni: str | None = None  # the server name a TLS ClientHello in the tunnel asked for
    host_header: str = ""
    conn: int = 0  # the proxy's number for the connection (per proxy)
    bytes_up: int | None = None  # `closed` only: sandbox -> destination
    bytes_down: int | None = None  # `closed` only: destination -> sandbox
    sandbox: str = ""  # the sandbox session whose proxy logged it


class Egress:
    """The session's proxy container and socket volume; `start()` returns the sandbox's env."""

    def __init__(self, client: docker.DockerClient, spec: SandboxSpec, session: str) -> None:
        self._client = client
        self._spec = spec
        self._session = session
        self.volume: Volume | None = None
        self.proxy: Container | None = None

    def _labels(self, kind: str) -> dict[str, str]:
        return labels_for(self._session, kind, self._spec)

    def start(self, ready_timeout_s: float = 20.0) -> dict[str, str]:
        """Start the proxy on its own bridge network, listening on a unix socket in a
        session volume; returns the sandbox's proxy environment."""
        name = f"rempart-{self._session}-egress"
        rules = encode_table(json.loads(self._spec.network_rules))
        if len(rules) > RULES_ENV_LIMIT:
            raise SandboxError(
                f"the policy's network rules are too large for the proxy ({len(rules)} bytes)",
                hint="use fewer network rules (wildcards such as `*.example.com`)",
            )
        try:
            self.volume = self._client.volumes.create(name, labels=self._labels(KIND_VOLUME))
            argv = [*PROXY_ARGV, "--listen", f"unix:{SOCKET_DIR}/{SOCKET_NAME}"]
            # it ends with its sandbox (the forwarder's lease), or after the lifetime
            argv += ["--lifetime", f"{self._spec.lifetime_s:g}"]
            for cidr in self._spec.egress_allow_cidrs:
                argv += ["--allow-cidr", cidr]
            self.proxy = self._client.containers.run(
                self._spec.image,
                argv,
                detach=True,
                environment={RULES_ENV: rules},
                name=f"rempart-{self._session}-proxy",
                user="1000:1000",
                labels=self._labels(KIND_PROXY),
                init=True,
                read_only=True,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                network="bridge",
                sysctls={"net.ipv6.conf.all.disable_ipv6": "1"},
                mounts=[Mount(SOCKET_DIR, name, type="volume")],
                mem_limit="128m",
                memswap_limit="128m",
                pids_limit=64,
                nano_cpus=500_000_000,
            )
        except APIError as exc:
            self.close()
            raise SandboxError(f"cannot set up the egress proxy: {exc.explanation}") from exc
        self._wait_listening(ready_timeout_s)
        url = f"http://{FORWARDER_LISTEN}"
        return {
            "HTTP_PROXY": url,
            "HTTPS_PROXY": url,
            "http_proxy": url,
            "https_proxy": url,
            "NO_PROXY": "",
            "no_proxy": "",
        }

    def _wait_listening(self, timeout_s: float) -> None:
        """Wait (bounded) for the proxy's `listening` log line."""
        assert self.proxy is not None
        deadline = time.monotonic() + timeout_s
        pause = threading.Event()
        while time.monotonic() < deadline:
            if b'"listening"' in self.proxy.logs(stdout=True, stderr=False):
                return
            self.proxy.reload()
            if self.proxy.status not in ("created", "running"):
                raise SandboxError(
                    "the egress proxy exited at start: " + self.proxy.logs().decode()
                )
            pause.wait(0.02)
        raise SandboxError(f"the egress proxy did not start within {timeout_s:.0f}s")

    def events(self) -> list[EgressEvent]:
        """Every attempt the proxy logged so far."""
        if self.proxy is None:
            return []
        try:
            raw = self.proxy.logs(stdout=True, stderr=False).decode(errors="replace")
        except ENGINE_ERRORS:  # removed, or the engine is down: nothing more can be read
            return []
        out: list[EgressEvent] = []
        for line in raw.splitlines():
            try:
                data = json.loads(line)
                if isinstance(data, dict) and "decision" in data:
                    data["sandbox"] = self._session
                    out.append(EgressEvent.model_validate(data))
            except (ValueError, ValidationError):
                continue
        return out

    def log_tail(self, lines: int = 5) -> str:
        """The proxy's last log lines (stdout and stderr), for an error message."""
        if self.proxy is None:
            return ""
        try:
            raw = self.proxy.logs(tail=lines).decode(errors="replace")
        except (NotFound, APIError):
            return ""
        return " | ".join(line for line in raw.splitlines() if line.strip())

    def close(self) -> None:
        if self.proxy is not None:
            with contextlib.suppress(NotFound):  # already removed (prune, killed from outside)
                self.proxy.remove(force=True)
            self.proxy = None
        if self.volume is not None:
            try:
                self.volume.remove(force=True)
            except NotFound:
                pass  # already removed
            except APIError as exc:
                raise SandboxError(
                    f"cannot remove volume {self.volume.name}: {exc.explanation}",
                    hint="`rempart sandbox prune` removes it later",
                ) from exc
            self.volume = None
