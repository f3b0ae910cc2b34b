"""Busy loops on every core, for starts that race under load (tests and bench)."""

from __future__ import annotations

import os
import subprocess
import sys
from types import TracebackType

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


class CpuLoad:
    """`with CpuLoad():` one busy process per core (killed, by pid, on exit)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 2
        self._procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> CpuLoad:
        for _ in range(self.workers):
            self._procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for proc in self._procs:
            proc.kill()
        for proc in self._procs:
            proc.wait(timeout=10)
