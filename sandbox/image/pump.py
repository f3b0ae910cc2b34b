"""A command's stdout and stderr read by one poll loop in the thread that runs it (no thread
per pipe), its exit awaited on a pidfd in the same loop. Standard library only.

Where the kernel has no pidfd (gVisor), the loop wakes on output and, once the command's
pipes are closed, waits for its exit the way `subprocess` does (short sleeps, growing).
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

POLL_STEP_MAX_S = 0.05  # without a pidfd: how long the loop may sleep between exit checks
READ_SIZE = 65536


class Buffer(Protocol):
    total: int

    def add(self, chunk: bytes) -> None: ...


def pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when `pid` (a child not yet reaped) exits."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # gVisor: ENOSYS
        return None


class Pump:
    """Reads both pipes of `proc` into `bufs`; kills its group when the output is a flood."""

    def __init__(
        self,
        send: Callable[[dict[str, Any]], None],
        rid: object,
        proc: subprocess.Popen[bytes],
        bufs: Mapping[str, Buffer],
        stream: bool,
        flood: dict[str, Any],
    ) -> None:
        self._send = send
        self._rid = rid
        self._proc = proc
        self._bufs = bufs
        self._stream = stream
        self._flood = flood
        self._poll = select.poll()
        self._open: dict[int, str] = {}
        for name, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            if pipe is not None:
                self._open[pipe.fileno()] = name
                self._poll.register(pipe.fileno(), select.POLLIN)

    def until_exit(self, exit_fd: int | None, deadline: float) -> None:
        """Read output until the command has exited (and is reaped); `TimeoutExpired` at
        `deadline` (monotonic). Output still in the pipes is left for `drain`."""
        if exit_fd is not None:
            self._poll.register(exit_fd, select.POLLIN)
        step = 0.0005
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise subprocess.TimeoutExpired(self._proc.args, 0)
                if exit_fd is None:
                    if self._proc.poll() is not None:
                        return
                    if not self._open:  # pipes closed: the exit is near
                        self._proc.wait(timeout=remaining)
                        return
                    remaining = min(remaining, step)
                    step = min(step * 2, POLL_STEP_MAX_S)
                for fd, _events in self._poll.poll(math.ceil(remaining * 1000)):
                    if fd == exit_fd:
                        self._proc.wait()  # it has exited: this only reaps it
                        return
                    self._read(fd)
        finally:
            if exit_fd is not None:
                self._poll.unregister(exit_fd)

    def drain(self, deadline: float) -> None:
        """Read what is left until both pipes are closed (the sweep killed whatever held
        them) or `deadline`; then close them."""
        try:
            while self._open:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                for fd, _events in self._poll.poll(math.ceil(remaining * 1000)):
                    self._read(fd)
        finally:
            for pipe in (self._proc.stdout, self._proc.stderr):
                if pipe is not None:
                    pipe.close()

    def _read(self, fd: int) -> None:
        try:
            chunk = os.read(fd, READ_SIZE)
        except OSError:
            chunk = b""
        name = self._open.get(fd)
        if name is None:
            return
        if not chunk:
            self._poll.unregister(fd)
            del self._open[fd]
            return
        self._bufs[name].add(chunk)
        flood = self._flood
        if not flood["hit"] and sum(b.total for b in self._bufs.values()) > flood["limit"]:
            flood["hit"] = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
        if self._stream:
            data = chunk.decode("utf-8", errors="replace")
            self._send({"id": self._rid, "event": name, "data": data})
