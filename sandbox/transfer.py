"""Copy the read view into a running sandbox: a tar stream into `tar -x`, as the sandbox
user, over the same hijacked `docker exec` stream the executor uses (no network).

The stream is never half-closed (a TLS stream cannot be): its first line is the tar's
size, and `head -c SIZE` ends the tar's input there, as the Kubernetes backend does.
The size comes on the stream, not in the command, so a pooled sandbox can open the exec
at boot, before it knows which workspace it will get."""

from __future__ import annotations

import struct
import threading
import time
from typing import IO

import docker
from docker.errors import APIError, NotFound

from sandbox.errors import SandboxError, SandboxGone
from sandbox.executor_client import Stream, _hijack, end_stream

CHUNK = 1 << 20
TIMEOUT_S = 600.0
# `read` takes the size line a byte at a time, so nothing of the tar is lost to it
SCRIPT = 'read -r size && head -c "$size" | tar -x --no-same-owner -p -C "$1" -f -'


def push_tar(
    client: docker.DockerClient, container_id: str, user: str, src: IO[bytes], dest: str
) -> None:
    """Extract the tar stream `src` under `dest` inside the container; raise on failure."""
    TarPush(client, container_id, user, dest).send(src)


class TarPush:
    """A `tar -x` opened in the container, waiting for its stream on stdin. A warm pool's
    sandbox opens one at boot, so loading a workspace later costs no exec start."""

    def __init__(self, client: docker.DockerClient, container_id: str, user: str, dest: str):
        argv = ["sh", "-c", SCRIPT, "push", dest]
        self._client = client
        try:
            created = client.api.exec_create(
                container_id, argv, stdin=True, stdout=True, stderr=True, tty=False, user=user
            )
        except NotFound as exc:
            raise SandboxGone("the sandbox container is gone") from exc
        except APIError as exc:
            raise SandboxError(f"cannot copy the workspace into the sandbox: {exc}") from exc
        self._exec_id = str(created["Id"])
        self._sock, self._early = _hijack(client, self._exec_id, TIMEOUT_S)

    def close(self) -> None:
        """Give up without sending (the stream's end breaks the read; nothing extracted)."""
        end_stream(self._sock)

    def send(self, src: IO[bytes]) -> None:
        """Stream `src` (seekable: its size goes first) to the tar and wait for it to
        finish; raise on failure."""
        sock = self._sock
        sent: list[BaseException] = []
        src.seek(0, 2)
        size = src.tell()
        src.seek(0)

        def send() -> None:
            try:
                sock.sendall(b"%d\n" % size)
                while chunk := src.read(CHUNK):
                    sock.sendall(chunk)
            except OSError as exc:
                sent.append(exc)

        sender = threading.Thread(target=send, name="rempart-view-push", daemon=True)
        sender.start()
        errors = _drain(sock, self._early)
        sender.join(timeout=TIMEOUT_S)
        end_stream(sock)
        code = _exit_code(self._client, self._exec_id)
        if code != 0 or sent:
            detail = errors.strip()[-500:] or (str(sent[0]) if sent else "")
            raise SandboxError(
                f"copying the workspace into the sandbox failed (tar exit {code}): {detail}",
                hint="is the workspace larger than the sandbox's memory or `limits.disk`?",
            )


def _drain(sock: Stream, early: bytes) -> str:
    """Read the multiplexed stream to its end; returns what came on stderr."""
    buf, errors = early, []
    while True:
        while len(buf) >= 8:
            stream, size = struct.unpack(">BxxxL", buf[:8])
            if len(buf) < 8 + size:
                break
            if stream == 2:
                errors.append(buf[8 : 8 + size].decode(errors="replace"))
            buf = buf[8 + size :]
        try:
            chunk = sock.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    return "".join(errors)


def _exit_code(client: docker.DockerClient, exec_id: str) -> int:
    for _ in range(100):
        info = client.api.exec_inspect(exec_id)
        if not info.get("Running") and info.get("ExitCode") is not None:
            return int(info["ExitCode"])
        time.sleep(0.02)
    return -1
