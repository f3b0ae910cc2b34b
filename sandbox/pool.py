"""A warm pool: N started sandboxes for one spec, so a new session gets one in milliseconds."""

from __future__ import annotations

import queue
import threading
from types import TracebackType

from sandbox.errors import SandboxError
from sandbox.sandbox import Sandbox
from sandbox.spec import SandboxSpec


class SandboxPool:
    """`with SandboxPool(spec, size=2) as pool: sb = pool.acquire()`; the caller closes `sb`."""

    def __init__(self, spec: SandboxSpec, size: int = 2) -> None:
        if size < 1:
            raise ValueError("pool size must be at least 1")
        self.spec = spec
        self.size = size
        self.spec_hash = spec.spec_hash()
        self._ready: queue.Queue[Sandbox] = queue.Queue()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._changed = threading.Condition()
        self._filler: threading.Thread | None = None
        self.last_error: SandboxError | None = None

    def __enter__(self) -> SandboxPool:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        self._filler = threading.Thread(target=self._fill, name="rempart-pool", daemon=True)
        self._filler.start()
        self._wake.set()

    def _fill(self) -> None:
        while not self._closed.is_set():
            self._wake.wait()
            self._wake.clear()
            while not self._closed.is_set() and self._ready.qsize() < self.size:
                sb = Sandbox(self.spec.model_copy(update={"labels": self._labels()}))
                try:
                    sb.start()
                except SandboxError as exc:
                    self.last_error = exc
                    with self._changed:
                        self._changed.notify_all()
                    break
                if self._closed.is_set():
                    sb.close()
                    return
                self._ready.put(sb)
                with self._changed:
                    self._changed.notify_all()

    def _labels(self) -> dict[str, str]:
        return {**self.spec.labels, "rempart.pool": self.spec_hash}

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until the pool holds `size` sandboxes (or raise after `timeout`)."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._ready.qsize() >= self.size or self.last_error is not None, timeout
            )
        if self._ready.qsize() < self.size:
            raise SandboxError(
                f"warm pool not filled within {timeout:.0f}s",
                hint=str(self.last_error or ""),
            )

    def acquire(self, timeout: float = 60.0) -> Sandbox:
        """A started sandbox (spec as given); the pool starts a replacement in the background."""
        while True:
            try:
                sb = self._ready.get(timeout=timeout)
            except queue.Empty as exc:
                raise SandboxError(
                    f"no sandbox became ready within {timeout:.0f}s", hint=str(self.last_error)
                ) from exc
            finally:
                self._wake.set()
            try:
                sb.ping(timeout=5.0)
            except SandboxError:
                sb.close()
                continue
            return sb

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        if self._filler is not None:
            self._filler.join(timeout=60.0)
        while True:
            try:
                sb = self._ready.get_nowait()
            except queue.Empty:
                break
            sb.close()
