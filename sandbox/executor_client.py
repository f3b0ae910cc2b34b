"""Host side of the in-container executor: JSON lines over a hijacked `docker exec` stream.

Why not `subprocess.Popen(["docker", "exec", "-i", ...])`: starting the Go CLI costs tens of
milliseconds on every (re)start, and its stdio adds a process hop. We create the exec through
the engine API and upgrade the HTTP connection ourselves on the engine's unix socket (or its
TLS port), so each round trip is one write and one read on a socket. Reading the response
headers ourselves also means no byte of the stream can be lost in an HTTP library's buffer.
"""

from __future__ import annotations

import contextlib
import hmac
import itertools
import json
import queue
import secrets
import socket
import ssl
import struct
import threading
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import docker
import requests
import urllib3
from docker.errors import APIError, NotFound
from docker.transport import UnixHTTPAdapter

from sandbox.errors import DockerUnavailable, ExecutorError, SandboxGone
from sandbox.tlsstream import TlsStream

FORWARD_HINT = (
    "forward the remote engine's socket: ssh -nNT -L /run/rempart/NAME.sock:"
    "/var/run/docker.sock user@host, and list unix:///run/rempart/NAME.sock"
)
EXECUTOR_ARGV = ["python3", "-u", "/opt/rempart/executor.py"]
# Every reply line is `<json>\t<tag>`, tag = HMAC-SHA256(key, "<n>:" + json) for the n-th
# line. The key is the executor's first stdin line, read before any command exists; a
# command cannot read the executor's memory (not dumpable, no ptrace), so a line it writes
# into the reply stream (gVisor lets it open /proc/<executor>/fd/1) is refused here.
IO_TIMEOUT_S = 30.0
READY_TIMEOUT_S = 20.0
Json = dict[str, Any]
EventSink = Callable[[Json], None]
_EOF: Json = {"event": "__eof__"}
Stream = socket.socket | TlsStream  # a unix socket, or a TLS connection to a tcp engine


def _engine_socket(client: docker.DockerClient, timeout: float) -> socket.socket:
    """A new connection to the engine `client` talks to: its unix socket, or its TLS port
    (mutual TLS with the client's own certificates, the engine's name verified). Nothing
    on it is ever half-closed, so a TLS socket serves as well as a unix one."""
    api = client.api
    adapter = api.get_adapter(api.base_url)
    if isinstance(adapter, UnixHTTPAdapter):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(adapter.socket_path)
        except OSError:
            sock.close()
            raise
        return sock
    parts = urlsplit(api.base_url)
    if parts.scheme == "https" and parts.hostname and parts.port:
        return _tls_socket(api, parts.hostname, parts.port, timeout)
    raise DockerUnavailable(
        f"the engine at {api.base_url} is reached in a way the sandbox's exec stream "
        "cannot use (it needs a unix socket or a tcp port with TLS)",
        hint=FORWARD_HINT,
    )


def _tls_socket(api: docker.APIClient, host: str, port: int, timeout: float) -> socket.socket:
    """A TLS connection to the engine's port, verified as docker-py verifies its own: the
    CA the client was given (else the system's), and the client's certificate. A client
    that does not verify the engine gets no stream."""
    verify: bool | str | None = api.verify
    if isinstance(verify, str):
        context = ssl.create_default_context(cafile=verify)
    elif verify:
        context = ssl.create_default_context()
    else:  # fail closed: Rempart's clients always verify (engines.tls_config)
        raise DockerUnavailable(
            f"the engine at {api.base_url} is not verified: no exec stream is opened to it",
            hint="give the client its engine's CA (REMPART_DOCKER_CERT_PATH/ca.pem)",
        )
    cert = api.cert
    if isinstance(cert, tuple):
        context.load_cert_chain(cert[0], cert[1])
    elif isinstance(cert, str):
        context.load_cert_chain(cert)
    raw = socket.create_connection((host, port), timeout=timeout)
    try:
        return context.wrap_socket(raw, server_hostname=host)
    except OSError:
        raw.close()
        raise


def _hijack(client: docker.DockerClient, exec_id: str, timeout: float) -> tuple[Stream, bytes]:
    """POST /exec/{id}/start with an Upgrade; return the stream and any early bytes."""
    api_version = client.api.api_version
    try:
        sock = _engine_socket(client, timeout)
    except OSError as exc:
        raise DockerUnavailable(f"cannot start the executor stream: {exc}") from exc
    try:
        body = b'{"Detach":false,"Tty":false}'
        head = (
            f"POST /v{api_version}/exec/{exec_id}/start HTTP/1.1\r\n"
            "Host: docker\r\nContent-Type: application/json\r\n"
            "Connection: Upgrade\r\nUpgrade: tcp\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        sock.sendall(head + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                raise ExecutorError("the engine closed the exec stream before answering")
            data += chunk
    except OSError as exc:
        sock.close()
        raise DockerUnavailable(f"cannot start the executor stream: {exc}") from exc
    header, _, rest = data.partition(b"\r\n\r\n")
    status = header.split(b"\r\n", 1)[0]
    if b" 101 " not in status and b" 200 " not in status:
        sock.close()
        raise ExecutorError(f"engine refused the exec stream: {status.decode(errors='replace')}")
    if isinstance(sock, ssl.SSLSocket):
        return TlsStream(sock, timeout), rest
    return sock, rest


def end_stream(sock: Stream) -> None:
    """Shut both ways (which wakes a thread blocked reading it: it sees the end) and close."""
    if isinstance(sock, TlsStream):
        sock.close()
        return
    with contextlib.suppress(OSError):  # already disconnected
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def reply_tag(key: bytes, seq: int, body: bytes) -> bytes:
    """The tag of the `seq`-th reply line (the executor computes the same)."""
    return hmac.new(key, b"%d:" % seq + body, "sha256").hexdigest().encode()


def _authentic(key: bytes, seq: int, line: bytes) -> bool:
    body, tab, tag = line.rpartition(b"\t")
    return bool(tab) and hmac.compare_digest(tag, reply_tag(key, seq, body))


class ExecutorClient:
    """One executor process in one container; `request` is safe to call from many threads."""

    def __init__(self, client: docker.DockerClient, container_id: str, user: str) -> None:
        self._client = client
        self._container_id = container_id
        self._user = user
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._pending: dict[int, queue.Queue[Json]] = {}
        self._sinks: dict[int, EventSink] = {}
        self._sock: Stream | None = None
        self._reader: threading.Thread | None = None
        self._stderr: deque[str] = deque(maxlen=50)
        self._ready: queue.Queue[Json] = queue.Queue()
        self._alive = False
        self.executor_pid = 0
        self.restarts = 0
        self.forged = 0  # reply lines refused: not tagged with this executor's key
        self.requests = 0  # requests sent (round trips), for tests and benches

    def start(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Exec the executor and wait for its `ready` line."""
        try:
            created = self._client.api.exec_create(
                self._container_id,
                EXECUTOR_ARGV,
                stdin=True,
                stdout=True,
                stderr=True,
                tty=False,
                user=self._user,
                workdir="/workspace",
            )
        except NotFound as exc:
            raise SandboxGone("the sandbox container is gone", hint="start a new sandbox") from exc
        except APIError as exc:
            if "is not running" in str(exc):
                raise SandboxGone("the sandbox container stopped") from exc
            raise ExecutorError(f"cannot start the executor: {exc}") from exc
        self._ready = queue.Queue()
        sock, early = _hijack(self._client, created["Id"], IO_TIMEOUT_S)
        self._sock = sock
        self._attach(sock, early)
        self._await_ready(timeout)

    def _await_ready(self, timeout: float) -> None:
        """Wait for the executor's ready line (its pid); every stream starts this way."""
        try:
            ready = self._ready.get(timeout=timeout)
        except queue.Empty as exc:
            self._drop()
            raise ExecutorError(f"executor not ready after {timeout:.0f}s") from exc
        if ready is _EOF:
            self._drop()
            self.raise_if_gone()
            raise ExecutorError("executor exited at start: " + " | ".join(self._stderr))
        self.executor_pid = int(ready.get("pid", 0))

    def _attach(self, sock: Stream, early: bytes) -> None:
        """Give the executor its reply key (its first stdin line) and start reading its
        replies; every stream (docker exec, a pod's exec) starts this way."""
        key = secrets.token_bytes(32)
        # an executor already gone: the reader sees EOF, and start() says so
        with contextlib.suppress(OSError):
            sock.sendall(json.dumps({"key": key.hex()}).encode() + b"\n")
        with self._lock:
            self._alive = True
        self._reader = threading.Thread(
            target=self._read_loop,
            args=(sock, early, key),
            name="rempart-executor-reader",
            daemon=True,
        )
        self._reader.start()

    @property
    def alive(self) -> bool:
        with self._lock:
            return self._alive and self._sock is not None

    def _drop(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            end_stream(sock)

    def close(self) -> None:
        """Close the stream: the engine then closes the executor's stdin, and the executor
        exits on that EOF. (No half-close first: a TLS stream cannot do one.)"""
        self._drop()
        if self._reader is not None:
            self._reader.join(timeout=2.0)

    def _read_loop(self, sock: Stream, early: bytes, key: bytes) -> None:
        buf = early
        line_buf = b""
        seq = itertools.count()
        expected = next(seq)
        try:
            while True:
                while len(buf) >= 8:
                    stream, size = struct.unpack(">BxxxL", buf[:8])
                    if len(buf) < 8 + size:
                        break
                    payload, buf = buf[8 : 8 + size], buf[8 + size :]
                    if stream == 1:
                        line_buf += payload
                        *lines, line_buf = line_buf.split(b"\n")
                        for line in lines:
                            if _authentic(key, expected, line):
                                expected = next(seq)
                                self._dispatch(line.rpartition(b"\t")[0])
                            else:
                                self.forged += 1
                                self._stderr.append(f"forged executor line refused: {line[:200]!r}")
                    else:
                        self._stderr.append(payload.decode(errors="replace")[-2000:])
                try:
                    chunk = sock.recv(1 << 20)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                buf += chunk
        except (OSError, ValueError):  # ValueError: a TLS socket closed under the read
            pass  # the stream broke: treated exactly like EOF below
        finally:
            self._ready.put(_EOF)
            with self._lock:
                self._alive = False
                waiting = list(self._pending.values())
            for q in waiting:
                q.put(_EOF)

    def _dispatch(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
        except ValueError:
            self._stderr.append(f"unparseable executor line: {line[:200]!r}")
            return
        if not isinstance(msg, dict):
            return
        if msg.get("event") == "ready":
            self._ready.put(msg)
            return
        rid = msg.get("id")
        with self._lock:
            q = self._pending.get(rid) if isinstance(rid, int) else None
            sink = self._sinks.get(rid) if isinstance(rid, int) else None
        if msg.get("event") in ("stdout", "stderr"):
            if sink is not None:
                sink(msg)
            return
        if q is not None:
            q.put(msg)

    def container_running(self, settle_s: int = 2) -> bool:
        """Is the container alive? Waits up to `settle_s` for a dying one to finish stopping
        (a `docker kill` closes our stream a moment before the engine marks it exited)."""
        try:
            self._client.api.wait(
                self._container_id, timeout=int(settle_s), condition="not-running"
            )
        except NotFound:
            return False
        except (requests.RequestException, urllib3.exceptions.HTTPError):
            return True  # still running after `settle_s`
        return False

    def raise_if_gone(self) -> None:
        if not self.container_running():
            raise SandboxGone(
                "the sandbox container is gone (killed or removed from outside)",
                hint="start a new sandbox; files written to the workspace are kept",
            )

    def request(self, payload: Json, timeout: float, on_event: EventSink | None = None) -> Json:
        """Send one request, wait for its final reply (`exit`, `result` or `error`)."""
        with self._start_lock:
            with self._lock:
                alive = self._alive and self._sock is not None
            if not alive:
                self._drop()
                self.raise_if_gone()
                self.restarts += 1
                self.start()
        rid = next(self._ids)
        q: queue.Queue[Json] = queue.Queue()
        with self._lock:
            self.requests += 1
            self._pending[rid] = q
            if on_event is not None:
                self._sinks[rid] = on_event
            if not self._alive:
                q.put(_EOF)
        try:
            line = json.dumps({**payload, "id": rid}, separators=(",", ":")).encode() + b"\n"
            sock = self._sock
            try:
                with self._send_lock:
                    assert sock is not None
                    sock.sendall(line)
            except OSError:
                self._after_death()
            try:
                reply = q.get(timeout=timeout)
            except queue.Empty as exc:
                self._drop()  # a hung executor is replaced on the next request
                raise ExecutorError(f"no answer from the executor within {timeout:.0f}s") from exc
            if reply is _EOF:
                self._after_death()
            return reply
        finally:
            with self._lock:
                self._pending.pop(rid, None)
                self._sinks.pop(rid, None)

    def send_raw(self, line: bytes) -> None:
        """Write bytes as they are (tests use it to check malformed requests are survived)."""
        if self._sock is None:
            raise ExecutorError("the executor is not running")
        with self._send_lock:
            self._sock.sendall(line)

    def _after_death(self) -> None:
        self._drop()
        self.raise_if_gone()
        detail = " | ".join(self._stderr)
        raise ExecutorError(
            "the executor died during the request; it is restarted on the next call",
            hint=detail[-500:],
        )
