"""An exec stream over TLS that one thread reads while others write.

OpenSSL lets one thread at a time use a connection, and the executor's stream is read by
its reader thread while requests are written from others (the workspace copy: a sender
thread and a drain). So every TLS call here is made under one lock, and the reader waits
for bytes outside it (poll on the socket), then reads without blocking. A unix socket
needs none of this and is used as it is.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading

READY = select.POLLIN | select.POLLERR | select.POLLHUP | select.POLLNVAL


class TlsStream:
    def __init__(self, sock: ssl.SSLSocket, timeout: float) -> None:
        self._sock = sock
        self._timeout = timeout
        self._lock = threading.Lock()
        self._poll = select.poll()
        self._poll.register(sock.fileno(), READY)

    def recv(self, size: int) -> bytes:
        """Up to `size` bytes; b"" at the end of the stream; TimeoutError after `timeout`
        with nothing read (as a socket with that timeout)."""
        while True:
            if not self._sock.pending() and not self._poll.poll(self._timeout * 1000):
                raise TimeoutError("no data on the exec stream")
            with self._lock:
                self._sock.settimeout(0.0)
                try:
                    return self._sock.recv(size)
                except ssl.SSLWantReadError:
                    continue  # a record without data (a session ticket), or part of one
                finally:
                    self._sock.settimeout(self._timeout)

    def sendall(self, data: bytes) -> None:
        with self._lock:
            self._sock.sendall(data)

    def close(self) -> None:
        """Shut both ways (the plain socket's shutdown: it wakes a reader waiting in poll,
        and leaves the TLS object in place for it), then close."""
        with contextlib.suppress(OSError):  # already disconnected
            socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
        with self._lock:
            self._sock.close()
