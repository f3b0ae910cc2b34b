"""Several Docker engines: addresses, health, placement by load, and walking them all.

`REMPART_DOCKER_HOSTS` lists engines, comma-separated: `unix:///path/docker.sock`,
`tcp://host:2376` (always TLS, with the client certificate in `REMPART_DOCKER_CERT_PATH`:
`ca.pem`, `cert.pem`, `key.pem`, as Docker's own `DOCKER_CERT_PATH`), or
`ssh://user@host[:port]` (through the `ssh` client, so `~/.ssh/config` and agents apply).
Unset or empty: the local engine, exactly as before (`docker.from_env`: `DOCKER_HOST`...).

A new sandbox goes to the healthy engine with the fewest running Rempart sandboxes (their
labels say so); an engine that does not answer its ping within a few seconds, or lacks the
sandbox image, is skipped and reported (`Placement.skipped`). Sandboxes go to unix and
tcp+TLS engines; an ssh engine is only walked by `ls`, `prune` and `doctor`. The sandbox
package cannot read the agent's settings, so it reads the same variables (as for folders,
`engine.py`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import docker
from docker.errors import ImageNotFound
from docker.tls import TLSConfig
from pydantic import BaseModel

from sandbox.container import Resource, list_resources, prune
from sandbox.engine import API_TIMEOUT_S, ENGINE_ERRORS, KIND_SANDBOX, LABEL_KIND, docker_client
from sandbox.errors import DockerUnavailable, SandboxError
from sandbox.executor_client import FORWARD_HINT

PING_TIMEOUT_S = 3.0
HOSTS_VARIABLE = "REMPART_DOCKER_HOSTS"
CERT_VARIABLE = "REMPART_DOCKER_CERT_PATH"
LOCAL = "local"  # the engine docker.from_env() finds (DOCKER_HOST, else the local socket)
TLS_FILES = ("ca.pem", "cert.pem", "key.pem")
Scheme = Literal["local", "unix", "tcp", "ssh"]
# the certificate folder each tcp engine's client was made with (the CLI needs it too)
_TLS_FOLDERS: dict[str, Path] = {}


class EngineConfigError(SandboxError):
    """An engine address (or its TLS folder) that cannot be used as written."""


class EngineAddress(BaseModel, frozen=True):
    """One engine as configured: `url` is what the person wrote (and what reports show)."""

    url: str
    scheme: Scheme


class EngineState(BaseModel):
    """What a survey found: whether the engine may take a sandbox, and its load."""

    url: str
    ok: bool
    running: int = 0  # Rempart sandboxes running there
    problem: str = ""


def parse_address(text: str) -> EngineAddress:
    """One address; anything else than unix, tcp or ssh is an error that says why."""
    url = text.strip()
    if url == LOCAL:
        return EngineAddress(url=LOCAL, scheme="local")
    parts = urlsplit(url)
    hint = "write unix:///path/to/docker.sock, tcp://host:2376 or ssh://user@host"
    if parts.scheme == "unix":
        if not parts.path.startswith("/") or parts.netloc:
            raise EngineConfigError(f"engine {url!r}: a unix socket needs an absolute path", hint)
        return EngineAddress(url=url, scheme="unix")
    if parts.scheme in ("tcp", "ssh"):
        try:
            port = parts.port
        except ValueError as exc:
            raise EngineConfigError(f"engine {url!r}: {exc}", hint) from exc
        if not parts.hostname:
            raise EngineConfigError(f"engine {url!r}: no host name", hint)
        if parts.scheme == "tcp" and port is None:
            raise EngineConfigError(f"engine {url!r}: tcp needs a port (2376 for TLS)", hint)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise EngineConfigError(f"engine {url!r}: unexpected path or query", hint)
        if parts.scheme == "tcp" and parts.username:
            raise EngineConfigError(f"engine {url!r}: tcp takes no user name", hint)
        return EngineAddress(url=url, scheme=parts.scheme)
    raise EngineConfigError(f"engine {url!r}: unknown scheme {parts.scheme or '(none)'!r}", hint)


def parse_hosts(value: str | Sequence[str]) -> list[EngineAddress]:
    """`a,b,c` (or a list) into addresses: blanks ignored, duplicates an error; none: local."""
    items = value.split(",") if isinstance(value, str) else list(value)
    addresses = [parse_address(item) for item in items if item.strip()]
    urls = [a.url for a in addresses]
    twice = sorted({u for u in urls if urls.count(u) > 1})
    if twice:
        raise EngineConfigError(f"engine listed twice: {', '.join(twice)}", "list each engine once")
    return addresses or [EngineAddress(url=LOCAL, scheme="local")]


def tls_config(cert_path: Path | None, url: str) -> TLSConfig:
    """Mutual TLS with verification, from a folder holding ca.pem, cert.pem and key.pem."""
    if cert_path is None:
        raise EngineConfigError(
            f"engine {url}: tcp is only used with TLS, and no certificate folder is set",
            hint=f"set {CERT_VARIABLE} to a folder with {', '.join(TLS_FILES)} "
            "(as Docker's DOCKER_CERT_PATH); an unencrypted engine port is root on that host",
        )
    missing = [name for name in TLS_FILES if not (cert_path / name).is_file()]
    if missing:
        raise EngineConfigError(
            f"engine {url}: {cert_path} lacks {', '.join(missing)}",
            hint="the folder needs the CA (ca.pem) and this client's cert.pem and key.pem",
        )
    return TLSConfig(
        client_cert=(str(cert_path / "cert.pem"), str(cert_path / "key.pem")),
        ca_cert=str(cert_path / "ca.pem"),
        verify=True,
    )


def client_for(
    address: EngineAddress, cert_path: Path | None = None, timeout: float = API_TIMEOUT_S
) -> docker.DockerClient:
    """A client for one engine (no call made yet, except for `local`, which pings)."""
    if address.scheme == "local":
        return docker_client(timeout)
    try:
        if address.scheme == "tcp":
            tls = tls_config(cert_path, address.url)
            assert cert_path is not None  # tls_config refuses None
            _TLS_FOLDERS[address.url] = cert_path  # for cli_args
            return PinnedClient(base_url=address.url, tls=tls, timeout=int(timeout))
        if address.scheme == "ssh":
            return docker.DockerClient(
                base_url=address.url, use_ssh_client=True, timeout=int(timeout)
            )
        _socket_answers(urlsplit(address.url).path, timeout)
        return docker.DockerClient(base_url=address.url, timeout=int(timeout))
    except ENGINE_ERRORS as exc:
        raise DockerUnavailable(f"cannot reach the Docker engine {address.url}: {exc}") from exc


class PinnedApiClient(docker.APIClient):
    """docker-py's API client that never takes TLS or proxy settings from the environment,
    from its first call on (the version probe in its constructor). With requests' default,
    REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE replace the pinned ca.pem with the system's CAs,
    and any publicly signed certificate for the engine's name would be trusted."""

    @property
    def trust_env(self) -> bool:
        return False

    @trust_env.setter
    def trust_env(self, _value: bool) -> None:
        pass  # requests.Session's constructor sets it True: never taken


class PinnedClient(docker.DockerClient):
    """A `DockerClient` whose API client is a `PinnedApiClient` (for tcp+TLS engines)."""

    def __init__(self, base_url: str, tls: TLSConfig, timeout: int) -> None:
        self.api = PinnedApiClient(base_url=base_url, tls=tls, timeout=timeout)


def _socket_answers(path: str, timeout: float) -> None:
    """Connect to a unix socket once before docker-py does: a socket it cannot connect
    leaks its file descriptor (a ResourceWarning), and the error names the path plainly."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout)
        try:
            probe.connect(path)
        except OSError as exc:
            raise DockerUnavailable(
                f"cannot reach the Docker engine unix://{path}: {exc.strerror or exc}",
                hint="start that dockerd, or drop it from " + HOSTS_VARIABLE,
            ) from exc


def socket_answers(url: str, timeout: float = PING_TIMEOUT_S) -> bool:
    """Whether a unix engine's socket takes a connection (other kinds: not checked, True).
    Asked before calls on an engine that may have died, which docker-py would leak."""
    if not url.startswith("unix://"):
        return True
    try:
        _socket_answers(urlsplit(url).path, timeout)
    except DockerUnavailable:
        return False
    return True


def cli_args(url: str) -> list[str]:
    """The `docker` CLI's arguments that reach the engine at `url` (none: the local one).
    A tcp engine gets `--tlsverify` and the certificates its client was made with (else
    those of REMPART_DOCKER_CERT_PATH), as MCP servers and `sandbox exec` run the CLI."""
    if url in ("", LOCAL):
        return []
    if not url.startswith("tcp://"):
        return ["-H", url]
    cert_path = _TLS_FOLDERS.get(url)
    if cert_path is None:
        cert_path = Path(os.environ.get(CERT_VARIABLE) or ".")
    return [
        "-H",
        url,
        "--tlsverify",
        f"--tlscacert={cert_path / 'ca.pem'}",
        f"--tlscert={cert_path / 'cert.pem'}",
        f"--tlskey={cert_path / 'key.pem'}",
    ]


@dataclass
class Placement:
    """Where a sandbox goes: the engine, a client for it, and the engines passed over."""

    url: str
    client: docker.DockerClient
    states: list[EngineState] = field(default_factory=list)

    @property
    def skipped(self) -> list[EngineState]:
        return [s for s in self.states if not s.ok]


class Engines:
    """The configured engines. `Engines.from_env()` reads `REMPART_DOCKER_HOSTS`."""

    def __init__(
        self,
        hosts: str | Sequence[str] = (),
        cert_path: Path | None = None,
        ping_timeout_s: float = PING_TIMEOUT_S,
    ) -> None:
        self.addresses = parse_hosts(hosts)
        self.cert_path = cert_path
        self.ping_timeout_s = ping_timeout_s

    @classmethod
    def from_env(cls) -> Engines:
        cert = os.environ.get(CERT_VARIABLE)
        return cls(os.environ.get(HOSTS_VARIABLE, ""), Path(cert) if cert else None)

    @property
    def several(self) -> bool:
        return len(self.addresses) > 1

    def client(self, address: EngineAddress, timeout: float = API_TIMEOUT_S) -> docker.DockerClient:
        return client_for(address, self.cert_path, timeout)

    def state(self, address: EngineAddress, image: str | None = None) -> EngineState:
        """Ping (short timeout), count running sandboxes, and check the image is there.
        An ssh engine answers `ls` and `prune` but cannot host a sandbox: the executor's
        stream is opened on a unix socket or a TLS port (forward the remote socket)."""
        if address.scheme == "ssh":
            return EngineState(
                url=address.url,
                ok=False,
                problem="cannot host sandboxes (their exec stream needs a unix socket or "
                "a tcp port with TLS): " + FORWARD_HINT,
            )
        try:
            client = self.client(address, self.ping_timeout_s)
        except SandboxError as exc:
            return EngineState(url=address.url, ok=False, problem=_problem(exc))
        try:
            client.ping()
            if image is not None:
                client.images.get(image)
            running = client.api.containers(
                filters={"label": f"{LABEL_KIND}={KIND_SANDBOX}", "status": "running"}
            )
        except ImageNotFound:
            return EngineState(
                url=address.url,
                ok=False,
                problem=f"no sandbox image {image} (copy it: docker save {image} | "
                f"docker -H {address.url} load)",
            )
        except ENGINE_ERRORS as exc:
            return EngineState(url=address.url, ok=False, problem=_short(exc))
        finally:
            client.close()
        return EngineState(url=address.url, ok=True, running=len(running))

    def survey(self, image: str | None = None) -> list[EngineState]:
        """Every engine's state, probed in parallel (a dead one costs one ping timeout)."""
        if len(self.addresses) == 1:
            return [self.state(self.addresses[0], image)]
        with ThreadPoolExecutor(max_workers=min(8, len(self.addresses))) as pool:
            return list(pool.map(lambda a: self.state(a, image), self.addresses))

    def place(self, image: str | None = None) -> Placement:
        """The healthy engine with the fewest running sandboxes (ties: the first listed).
        With one engine nothing is surveyed: its own errors say what is wrong."""
        if not self.several:
            address = self.addresses[0]
            return Placement(address.url, self.client(address))
        states = self.survey(image)
        healthy = [(s.running, i) for i, s in enumerate(states) if s.ok]
        for _running, index in sorted(healthy):
            address = self.addresses[index]
            try:
                return Placement(address.url, self.client(address), states)
            except SandboxError as exc:  # died since its ping
                states[index] = EngineState(url=address.url, ok=False, problem=exc.message)
        raise DockerUnavailable(
            "no Docker engine can take a sandbox: "
            + "; ".join(f"{s.url}: {s.problem}" for s in states),
            hint="start one of the engines (or copy the image to it); "
            f"check {HOSTS_VARIABLE}; `rempart doctor` shows each engine",
        )

    def each(self) -> Iterator[tuple[str, docker.DockerClient | None, str]]:
        """Every engine in turn: (url, a client, '') or (url, None, why it cannot be used).
        The caller closes each client."""
        for address in self.addresses:
            try:
                client = self.client(address)
            except SandboxError as exc:
                yield address.url, None, _problem(exc)
                continue
            try:
                client.ping()
            except ENGINE_ERRORS as exc:
                client.close()
                yield address.url, None, _short(exc)
                continue
            yield address.url, client, ""


class EngineSweep(BaseModel):
    """What `ls` or `prune` found on every engine, and the engines it could not reach."""

    resources: list[Resource] = []
    unreachable: list[EngineState] = []


def sweep(
    engines: Engines,
    remove: bool,
    everything: bool = False,
    max_age_h: float | None = None,
    dry_run: bool = False,
) -> EngineSweep:
    """`list_resources` (remove=False) or `prune` on each engine in turn; an engine that
    does not answer is reported and the others are still walked."""
    out = EngineSweep()
    for url, client, problem in engines.each():
        if client is None:
            out.unreachable.append(EngineState(url=url, ok=False, problem=problem))
            continue
        try:
            if remove:
                found = prune(client, everything, max_age_h, dry_run)
            else:
                found = list_resources(client, max_age_h)
        except ENGINE_ERRORS as exc:
            out.unreachable.append(EngineState(url=url, ok=False, problem=_short(exc)))
            continue
        finally:
            client.close()
        out.resources += [r.model_copy(update={"engine": url}) for r in found]
    return out


def _problem(exc: SandboxError) -> str:
    """Why an engine cannot be used, without repeating its address."""
    cause = exc.__cause__
    return _short(cause) if isinstance(cause, Exception) else exc.message


def _short(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"unreachable: {exc.strerror}"
    text = str(exc).strip().splitlines()
    return f"unreachable: {type(exc).__name__}: {text[0][:200] if text else ''}"
