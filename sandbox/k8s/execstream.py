"""The executor (and the workspace's `tar -x`) over the Kubernetes API's exec stream.

`kubernetes.stream` opens `pods/exec` as a websocket whose frames carry a channel byte
(0 stdin, 1 stdout, 2 stderr, 3 the exit status). `PodExecutor` turns that into the byte
stream `ExecutorClient` already reads (Docker's 8-byte multiplexing headers over a socket
pair), so the request/reply logic, the timeouts and the death handling are the Docker
backend's own, unchanged. Only starting the stream and asking whether the pod still runs
differ.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import struct
import threading
from typing import IO, Any

import urllib3
from kubernetes.client import CoreV1Api
from kubernetes.client.exceptions import ApiException
from kubernetes.stream.stream import _websocket_request
from kubernetes.stream.ws_client import (
    ERROR_CHANNEL,
    STDERR_CHANNEL,
    STDOUT_CHANNEL,
    websocket_call,
)
from websocket import WebSocketException

from sandbox.errors import ExecutorError, SandboxError, SandboxGone
from sandbox.executor_client import EXECUTOR_ARGV, READY_TIMEOUT_S, ExecutorClient

POLL_S = 0.2
CHUNK = 1 << 20
PUSH_TIMEOUT_S = 600.0
# kubernetes.stream.ws_client.Stream: the client leaves its methods untyped
Stream = Any


def _uncaptured(configuration: Any, method: str, url: str, **kwargs: Any) -> Any:
    """`websocket_call` without `capture_all`: a long session's output is not kept twice."""
    call: Any = websocket_call  # untyped in the client
    return call(configuration, method, url, capture_all=False, **kwargs)


def open_exec(api: CoreV1Api, namespace: str, pod: str, container: str, argv: list[str]) -> Stream:
    """`pods/exec` with stdin, stdout and stderr, no tty, as a binary websocket."""
    # `kubernetes.stream.stream` is this call with the capturing websocket_call
    request: Any = _websocket_request
    try:
        return request(
            _uncaptured,
            None,
            api.connect_get_namespaced_pod_exec,
            pod,
            namespace,
            container=container,
            command=argv,
            stdin=True,
            stdout=True,
            stderr=True,
            tty=False,
            binary=True,
            _preload_content=False,
        )
    except ApiException as exc:  # the websocket call reports every failure as status 0
        if exc.status == 404 or " 404 " in f" {exc.reason} ":
            raise SandboxGone(f"the sandbox pod {pod} is gone", hint="start a new sandbox") from exc
        raise ExecutorError(f"cannot exec in pod {pod}: {exc.reason}") from exc


def exit_status(ws: Stream) -> int:
    """The exec'd process's exit code from the status channel (-1 when none came)."""
    raw = ws.read_channel(ERROR_CHANNEL)
    if not raw:
        return -1
    try:
        status: dict[str, Any] = json.loads(raw)
    except ValueError:
        return -1
    if status.get("status") == "Success":
        return 0
    for cause in status.get("details", {}).get("causes", []):
        if cause.get("reason") == "ExitCode":
            return int(cause.get("message", -1))
    return -1


def _close_stdin(ws: Stream) -> None:
    """v5.channel.k8s.io can close stdin alone; under v4 only the whole stream closes."""
    with contextlib.suppress(Exception):  # the stream may already be gone: nothing to close
        ws.close_channel(0)


def shut(ws: Stream) -> None:
    """Close the websocket and its socket (`close` alone skips a socket whose peer closed)."""
    with contextlib.suppress(Exception):  # the peer may be gone: nothing to say goodbye to
        ws.close(timeout=1)
    with contextlib.suppress(Exception):
        ws.sock.shutdown()


def pump(ws: Stream, out: socket.socket) -> None:
    """stdout/stderr frames -> Docker's multiplexed stream on `out`, until the exec ends."""
    try:
        while ws.is_open():
            ws.update(timeout=POLL_S)
            for channel in (STDOUT_CHANNEL, STDERR_CHANNEL):
                data = ws.read_channel(channel, timeout=0) if ws.is_open() else b""
                if data:
                    out.sendall(struct.pack(">BxxxL", channel, len(data)) + data)
        for channel in (STDOUT_CHANNEL, STDERR_CHANNEL):  # what came with the close
            data = ws.read_channel(channel, timeout=0)
            if data:
                out.sendall(struct.pack(">BxxxL", channel, len(data)) + data)
    except (OSError, ValueError, TypeError, WebSocketException):
        # a broken websocket or socket pair (or one closed under `update`, whose socket is
        # then None) is the end of the stream, as EOF is
        pass
    finally:
        with contextlib.suppress(OSError):
            out.shutdown(socket.SHUT_RDWR)
        out.close()


def feed(source: socket.socket, ws: Stream) -> None:
    """What `ExecutorClient` writes -> the stdin channel; its shutdown closes stdin."""
    try:
        while chunk := source.recv(CHUNK):
            ws.write_stdin(chunk)
    except (OSError, ValueError, WebSocketException):
        pass  # the stream is gone: the reader sees the end
    _close_stdin(ws)
    shut(ws)


class PodExecutor(ExecutorClient):
    """`ExecutorClient` whose stream is a `pods/exec` websocket instead of `docker exec`."""

    def __init__(
        self, api: CoreV1Api, namespace: str, pod: str, container: str = "sandbox"
    ) -> None:
        # no Docker client: every method that would use one is overridden here
        super().__init__(None, pod, "")  # type: ignore[arg-type]
        self._api = api
        self._namespace = namespace
        self._pod = pod
        self._container = container
        self._ws: Stream | None = None

    def start(self, timeout: float = READY_TIMEOUT_S) -> None:
        ws = open_exec(self._api, self._namespace, self._pod, self._container, EXECUTOR_ARGV)
        ours, theirs = socket.socketpair()
        self._ws = ws
        self._ready = queue.Queue()
        self._sock = ours
        for target, args, name in (
            (pump, (ws, theirs), "rempart-k8s-exec-out"),
            (feed, (theirs, ws), "rempart-k8s-exec-in"),
        ):
            threading.Thread(target=target, args=args, name=name, daemon=True).start()
        self._attach(ours, b"")  # the reply key first, then the reader
        self._await_ready(timeout)

    def close(self) -> None:
        super().close()
        ws, self._ws = self._ws, None
        if ws is not None:
            shut(ws)

    def container_running(self, settle_s: int = 2) -> bool:
        """Is the sandbox container still running (the pod not gone or finished)?"""
        return pod_running(self._api, self._namespace, self._pod)


def pod_running(api: CoreV1Api, namespace: str, pod: str) -> bool:
    try:
        found = api.read_namespaced_pod(pod, namespace, _request_timeout=30)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise SandboxError(f"cannot read pod {pod}: {exc.status} {exc.reason}") from exc
    except urllib3.exceptions.HTTPError as exc:
        raise SandboxError(
            f"cannot read pod {pod}: the Kubernetes API server did not answer ({exc})"
        ) from exc
    if found.status is None or found.status.phase != "Running":
        return False
    states = found.status.container_statuses or []
    return all(s.state is not None and s.state.running is not None for s in states)


def push_tar_exec(
    api: CoreV1Api, namespace: str, pod: str, container: str, src: IO[bytes], dest: str
) -> None:
    """Extract the tar stream `src` under `dest` in the pod (as its non-root user).

    `head -c SIZE` ends the input at the tar's size, so the extraction does not depend on
    the stream's stdin being closed (which the v4 exec protocol cannot do on its own).
    """
    src.seek(0, 2)
    size = src.tell()
    src.seek(0)
    script = 'head -c "$1" | tar -x --no-same-owner -p -C "$2" -f -'
    ws = open_exec(api, namespace, pod, container, ["sh", "-c", script, "push", str(size), dest])
    errors: list[bytes] = []
    try:
        while chunk := src.read(CHUNK):
            ws.write_stdin(chunk)
        _close_stdin(ws)
        ws.run_forever(timeout=PUSH_TIMEOUT_S)
        err = ws.read_channel(STDERR_CHANNEL, timeout=0)
        if err:
            errors.append(err if isinstance(err, bytes) else str(err).encode())
        code = exit_status(ws)
    except OSError as exc:
        raise SandboxError(f"copying the workspace into the sandbox failed: {exc}") from exc
    finally:
        shut(ws)
    if code != 0:
        detail = b"".join(errors).decode(errors="replace").strip()[-500:]
        raise SandboxError(
            f"copying the workspace into the sandbox failed (tar exit {code}): {detail}",
            hint="is the workspace larger than the sandbox's memory or `limits.disk`?",
        )
