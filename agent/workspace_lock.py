"""One session at a time per workspace: an exclusive `flock` on a file in the data dir.

Two sessions writing the same files would undo each other's work (and each other's
checkpoints). The lock is held for the whole session and released by the kernel when the
process ends, `kill -9` included; a second session (or `rempart undo`) is refused with the
holder's session id and pid.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
from types import TracebackType

from policies.errors import RempartError


class WorkspaceBusy(RempartError):
    """Another session holds the workspace."""


class WorkspaceLock:
    def __init__(self, locks_dir: Path, workspace: Path) -> None:
        self.workspace = Path(os.path.realpath(workspace))
        digest = hashlib.sha256(str(self.workspace).encode()).hexdigest()[:16]
        self.path = locks_dir / f"{digest}.lock"
        self._fd: int | None = None

    def acquire(self, holder: str) -> WorkspaceLock:
        """Take the lock (never waits); raises WorkspaceBusy naming who holds it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise RempartError(f"cannot create the workspace lock {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = _read(fd)
            os.close(fd)
            raise WorkspaceBusy(
                f"the workspace {self.workspace} is in use by {who.get('holder', '?')} "
                f"(pid {who.get('pid', '?')})",
                hint="wait until it ends or stop it: two sessions on one workspace would "
                "overwrite each other's changes",
            ) from None
        self._fd = fd
        self.describe(holder)
        return self

    def describe(self, holder: str) -> None:
        """Say who holds the lock (shown to whoever is refused)."""
        if self._fd is None:
            return
        body = json.dumps({"holder": holder, "pid": os.getpid()}).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, body, 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> WorkspaceLock:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _read(fd: int) -> dict[str, object]:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
