"""Per-session egress: an internal network whose only way out is the allowlisting proxy."""

from __future__ import annotations

import contextlib
import json
import threading
import time

import docker
from docker.errors import APIError, NotFound
from docker.models.containers import Container
from docker.models.networks import Network
from pydantic import BaseModel, ConfigDict, ValidationError

from sandbox.container import labels_for
from sandbox.engine import KIND_NETWORK, KIND_PROXY
from sandbox.errors import SandboxError
from sandbox.spec import SandboxSpec

PROXY_PORT = 3128
PROXY_ARGV = ["python3", "-u", "/opt/rempart/egress_proxy.py", "--listen", f"0.0.0.0:{PROXY_PORT}"]


class EgressEvent(BaseModel):
    """One connection attempt through the proxy (for the audit log)."""

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


class Egress:
    """The session network and proxy container; `start()` returns the sandbox's env."""

    def __init__(self, client: docker.DockerClient, spec: SandboxSpec, session: str) -> None:
        self._client = client
        self._spec = spec
        self._session = session
        self.network: Network | None = None
        self.proxy: Container | None = None

    def _labels(self, kind: str) -> dict[str, str]:
        return labels_for(self._session, kind, self._spec)

    def start(self, ready_timeout_s: float = 20.0) -> dict[str, str]:
        name = f"rempart-{self._session}-net"
        try:
            self.network = self._client.networks.create(
                name,
                driver="bridge",
                internal=True,
                enable_ipv6=False,
                labels=self._labels(KIND_NETWORK),
                options={"com.docker.network.bridge.enable_icc": "true"},
            )
            argv = list(PROXY_ARGV)
            for pattern in self._spec.network_allow:
                argv += ["--allow", pattern]
            for cidr in self._spec.egress_allow_cidrs:
                argv += ["--allow-cidr", cidr]
            for pattern in self._spec.network_deny:
                argv += ["--deny", pattern]
            self.proxy = self._client.containers.run(
                self._spec.image,
                argv,
                detach=True,
                name=f"rempart-{self._session}-proxy",
                user="1000:1000",
                labels=self._labels(KIND_PROXY),
                init=True,
                read_only=True,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                network="bridge",
                sysctls={"net.ipv6.conf.all.disable_ipv6": "1"},
                mem_limit="128m",
                memswap_limit="128m",
                pids_limit=64,
                nano_cpus=500_000_000,
            )
            self.network.connect(self.proxy)
            self.proxy.reload()
        except APIError as exc:
            self.close()
            raise SandboxError(f"cannot set up the egress proxy: {exc.explanation}") from exc
        self._wait_listening(ready_timeout_s)
        nets = self.proxy.attrs["NetworkSettings"]["Networks"]
        ip = nets[name]["IPAddress"]
        url = f"http://{ip}:{PROXY_PORT}"
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
        except NotFound:
            return []
        out: list[EgressEvent] = []
        for line in raw.splitlines():
            try:
                data = json.loads(line)
                if isinstance(data, dict) and "decision" in data:
                    out.append(EgressEvent.model_validate(data))
            except (ValueError, ValidationError):
                continue
        return out

    def close(self) -> None:
        if self.proxy is not None:
            with contextlib.suppress(NotFound):  # already removed (prune, killed from outside)
                self.proxy.remove(force=True)
            self.proxy = None
        if self.network is not None:
            try:
                self.network.remove()
            except NotFound:
                pass  # already removed
            except APIError as exc:
                raise SandboxError(
                    f"cannot remove network {self.network.name}: {exc.explanation}",
                    hint="`rempart sandbox prune` removes it later",
                ) from exc
            self.network = None
