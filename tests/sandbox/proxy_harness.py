"""A real egress proxy container for one policy, driven through its unix socket from here.

The proxy is started exactly as a sandbox starts it (`sandbox.egress.Egress` with the spec
`spec_from_policy` derives); the tests talk to the socket in its volume directly (they run
as root on the Docker host), so many requests need no sandbox container.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

from policies import PolicySet
from sandbox.container import new_session_id
from sandbox.egress import Egress, EgressEvent
from sandbox.engine import SOCKET_NAME, docker_client
from sandbox.policy_bridge import spec_from_policy

TIMEOUT_S = 15.0


def layered(*texts: str) -> PolicySet:
    """A PolicySet from YAML texts, layers named org, project, user, layer3, ..."""
    names = ["org", "project", "user"]
    docs = []
    for i, text in enumerate(texts):
        name = names[i] if i < len(names) else f"layer{i}"
        docs.append((name, f"{name}.yaml", text))
    return PolicySet.from_texts(docs)


def client_hello(server_hostname: str | None) -> bytes:
    """A real TLS ClientHello (Python's ssl) asking for `server_hostname` (SNI)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    with contextlib.suppress(ssl.SSLWantReadError):  # it waits for the ServerHello
        tls.do_handshake()
    return outgoing.read()


def split_records(hello: bytes, size: int) -> bytes:
    """The same handshake re-cut into TLS records of at most `size` bytes each."""
    body = hello[5:]
    out = b""
    for i in range(0, len(body), size):
        piece = body[i : i + size]
        out += hello[:3] + len(piece).to_bytes(2, "big") + piece
    return out


class ProxyUnderTest:
    """`with ProxyUnderTest(policy, image) as proxy: proxy.exchange(b"CONNECT ...")`."""

    def __init__(self, policy: PolicySet, image: str) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="rempart-proxy-")
        spec = spec_from_policy(policy, Path(self._tmp.name), image)
        if not spec.network_rules:  # nothing allowed: a sandbox starts no proxy at all
            table = json.dumps(policy.network_table(), sort_keys=True)
            spec = spec.model_copy(update={"network_rules": table})
        self.spec = spec
        self._client = docker_client()
        self.egress = Egress(self._client, spec, new_session_id())
        self.socket = ""

    def __enter__(self) -> ProxyUnderTest:
        try:
            self.egress.start()
            assert self.egress.volume is not None
            self.egress.volume.reload()
            self.socket = str(Path(self.egress.volume.attrs["Mountpoint"]) / SOCKET_NAME)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    def close(self) -> None:
        try:
            self.egress.close()
        finally:
            self._client.close()
            self._tmp.cleanup()

    def exchange(self, head: bytes, then: Iterable[bytes] = (), wait_s: float = 5.0) -> bytes:
        """Send `head`; after the proxy's first answer send each of `then`; everything the
        proxy sent back until it closed (or `wait_s` of silence)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(TIMEOUT_S)
            s.connect(self.socket)
            s.sendall(head)
            got = s.recv(65536)
            s.settimeout(wait_s)
            try:
                for chunk in then:
                    s.sendall(chunk)
                while data := s.recv(65536):
                    got += data
            except (TimeoutError, ConnectionError):
                pass
        return got

    def connect(self, target: str, then: Iterable[bytes] = (), wait_s: float = 5.0) -> bytes:
        head = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode()
        return self.exchange(head, then, wait_s)

    async def _one(self, head: bytes, limit: asyncio.Semaphore) -> bytes:
        async with limit:
            reader, writer = await asyncio.open_unix_connection(self.socket)
            try:
                writer.write(head)
                await writer.drain()
                return await asyncio.wait_for(reader.read(4096), TIMEOUT_S)
            finally:
                writer.close()

    def connect_many(self, targets: list[str], concurrency: int = 32) -> list[bytes]:
        """The proxy's first answer to a CONNECT for each target (concurrently)."""

        async def run() -> list[bytes]:
            limit = asyncio.Semaphore(concurrency)
            heads = [f"CONNECT {t} HTTP/1.1\r\n\r\n".encode() for t in targets]
            return await asyncio.gather(*(self._one(h, limit) for h in heads))

        return asyncio.run(run())

    def events(self) -> list[EgressEvent]:
        return self.egress.events()

    def wait_until_logged(self, count: int, timeout_s: float = 30.0) -> list[EgressEvent]:
        """Every logged attempt, once there are at least `count` of them."""
        deadline = time.monotonic() + timeout_s
        pause = threading.Event()
        while len(events := self.events()) < count and time.monotonic() < deadline:
            pause.wait(0.1)
        return events

    def wait_event(
        self, match: Callable[[EgressEvent], bool], timeout_s: float = 10.0
    ) -> EgressEvent:
        """The last logged attempt that `match`es (the log reaches Docker asynchronously)."""
        deadline = time.monotonic() + timeout_s
        pause = threading.Event()
        while True:
            found = [e for e in self.events() if match(e)]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError("no such proxy log line")
            pause.wait(0.05)


def refusal(answer: bytes) -> str:
    """The `X-Rempart-Egress` reason of a 403 answer, '' for anything else."""
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    if not head.startswith("HTTP/1.1 403"):
        return ""
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "x-rempart-egress":
            return value.strip()
    return "?"
