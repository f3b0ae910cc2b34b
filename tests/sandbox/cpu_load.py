"""Busy loops on every core, for starts that race under load (tests and bench)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

# The first thing a command does: one connection to its HTTPS_PROXY, one request through it.
# A proxy path that is not ready shows as REFUSED (nothing listens on 127.0.0.1:3128 yet) or
# EMPTY (the forwarder accepted but could not reach the proxy).
FIRST_CONNECTION = (
    "import os, socket\n"
    "host, port = os.environ['HTTPS_PROXY'].rsplit('/', 1)[1].split(':')\n"
    "try:\n"
    "    s = socket.create_connection((host, int(port)), timeout=20)\n"
    "except ConnectionRefusedError:\n"
    "    print('REFUSED'); raise SystemExit\n"
    "s.sendall(b'CONNECT denied.invalid:443 HTTP/1.1\\r\\nHost: denied.invalid:443\\r\\n\\r\\n')\n"
    "try:\n"
    "    line = s.recv(200).split(b'\\r\\n')[0].decode()\n"
    "except OSError as e:\n"
    "    line = f'RESET {e}'\n"
    "print(line or 'EMPTY')\n"
)
ANSWERED = "HTTP/1.1 403 Forbidden"  # the proxy's answer for a host the policy does not allow


@contextlib.contextmanager
def cpu_load(workers: int | None = None) -> Iterator[None]:
    """`with cpu_load():` one busy process per core (killed, by pid, on exit)."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(workers or os.cpu_count() or 2):
            procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        yield
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait(timeout=10)
