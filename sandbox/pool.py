"""Warm pools: sandboxes booted *empty* ahead of time, so a new session is ready in milliseconds.

A pooled sandbox holds nothing of any workspace: container (+ egress proxy with network
rules), executor ready, proxy path ready. A session takes one (`Pools.take`) and loads its
own workspace into it (`Sandbox.adopt`: its read view, its judge). A pool serves only specs
with its `pool_key` (same image, limits, network rules, env, runtime, ...); a pooled sandbox
serves exactly one session and is then closed, never returned. See docs/sandbox.md.
"""

from __future__ import annotations

import queue
import tempfile
import threading
from pathlib import Path
from types import TracebackType

from sandbox.engines import Engines
from sandbox.errors import SandboxError
from sandbox.sandbox import Sandbox
from sandbox.spec import SandboxSpec, pool_key

LABEL_POOL = "rempart.pool"


class SandboxPool:
    """`with SandboxPool(spec, size=2) as pool: sb = pool.acquire()`; the caller adopts
    `sb` for its session (`sb.adopt(...)`) and closes it at the end."""

    def __init__(self, spec: SandboxSpec, size: int = 2, engines: Engines | None = None) -> None:
        if size < 1:
            raise ValueError("pool size must be at least 1")
        self.spec = spec
        self.size = size
        self.engines = engines
        self.key = pool_key(spec)
        self._ready: queue.Queue[Sandbox] = queue.Queue()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._changed = threading.Condition()
        self._filler: threading.Thread | None = None
        self.last_error: SandboxError | None = None
        self.handed_out = 0  # sandboxes given to sessions

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
                labels = {**self.spec.labels, LABEL_POOL: self.key}
                sb = Sandbox(self.spec.model_copy(update={"labels": labels}), engines=self.engines)
                try:
                    sb.boot()
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

    def ready(self) -> int:
        """How many booted sandboxes wait to be taken."""
        return self._ready.qsize()

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
        """A booted, empty sandbox; the pool boots a replacement in the background."""
        sb = self._take(timeout)
        if sb is None:
            raise SandboxError(
                f"no sandbox became ready within {timeout:.0f}s", hint=str(self.last_error)
            )
        return sb

    def take(self) -> Sandbox | None:
        """A booted, empty sandbox at once, or None when none is ready (start cold then).
        The replacement boots when the caller says `refill()` (after its session loaded:
        a boot beside the load would slow the load)."""
        return self._take(None, refill=False)

    def refill(self) -> None:
        """Boot replacements for the sandboxes taken, in the background."""
        self._wake.set()

    def _take(self, timeout: float | None, refill: bool = True) -> Sandbox | None:
        while True:
            try:
                sb = self._ready.get(timeout=timeout) if timeout else self._ready.get_nowait()
            except queue.Empty:
                self._wake.set()
                return None
            finally:
                if refill:
                    self._wake.set()
            try:
                sb.ping(timeout=5.0)
            except SandboxError:  # died while it waited: never handed out
                sb.close()
                self._wake.set()
                continue
            self.handed_out += 1
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


class Pools:
    """Warm pools a long-lived host (the TUI, a bench, a service) keeps, one per hardening
    spec (`pool_key`). `take(spec)` gives a booted sandbox of that key, or None (the session
    starts cold); the first request for a key starts its pool, so later sessions are warm.
    """

    def __init__(self, size: int = 2, engines: Engines | None = None) -> None:
        self.size = size
        self.engines = engines
        self._pools: dict[str, SandboxPool] = {}
        self._lock = threading.Lock()
        # what the pools' specs name as workspace: an empty folder of their own, so a
        # pooled container names no session's workspace and outlives any of them
        self._empty = tempfile.TemporaryDirectory(prefix="rempart-pool-")
        self.folder = Path(self._empty.name)

    def __enter__(self) -> Pools:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def pool_for(self, spec: SandboxSpec) -> SandboxPool:
        """The pool of `spec`'s key, started (filling in the background) on first use."""
        key = pool_key(spec)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                empty = spec.model_copy(update={"workspace": self.folder})
                pool = SandboxPool(empty, self.size, self.engines)
                pool.start()
                self._pools[key] = pool
            return pool

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until every pool started so far is full (a bench, a test)."""
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.wait_ready(timeout)

    def refill(self, spec: SandboxSpec) -> None:
        """Boot replacements in `spec`'s pool (call it once the taken sandbox is loaded)."""
        self.pool_for(spec).refill()

    def take(self, spec: SandboxSpec) -> Sandbox | None:
        """A booted, empty sandbox hardened exactly as `spec` asks, or None; `refill(spec)`
        once it is loaded boots its replacement."""
        sb = self.pool_for(spec).take()
        if sb is not None and pool_key(sb.spec) != pool_key(spec):  # never: keyed above
            sb.close()
            return None
        return sb

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
        self._empty.cleanup()
