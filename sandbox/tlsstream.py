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
RECORD = 16384  # a TLS record's most data


class TlsStream:
    def __init__(self, sock: ssl.SSLSocket, timeout: float) -> None:
        self._sock = sock
        self._timeout = timeout
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._poll = select.poll()
        self._poll.register(sock.fileno(), READY)
        self._writable = select.poll()
        self._writable.register(sock.fileno(), select.POLLOUT | select.POLLERR | select.POLLHUP)

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
        """All of `data`, a record at a time, each without blocking under the lock: a full
        send buffer waits in poll outside it, so the reader can still drain the other way
        (else a tar blocked on its stderr, which we would not read, stalls both)."""
        view = memoryview(data)
        with self._send_lock:  # one writer's bytes are never mixed with another's
            while view:
                with self._lock:
                    self._sock.settimeout(0.0)
                    try:
                        sent = self._sock.send(view[:RECORD])
                    except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                        sent = 0  # retried with the same bytes, as OpenSSL asks
                    finally:
                        self._sock.settimeout(self._timeout)
                if sent:
                    view = view[sent:]
                elif not self._writable.poll(self._timeout * 1000):
                    raise TimeoutError("the exec stream took no data")

    def close(self) -> None:
        """Shut both ways (the plain socket's shutdown: it wakes a reader waiting in poll,
        and leaves the TLS object in place for it), then close."""
        with contextlib.suppress(OSError):  # already disconnected
            socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
        with self._lock:
            self._sock.close()
