"""What a long-lived host (the TUI, a bench, a service) keeps between the sessions it starts,
so that each new one is ready fast: warm sandbox pools and the model probe's last answer.

    with Warm() as warm:
        with Session(settings, SessionOptions(..., warm=warm), listeners) as session: ...

`rempart run` starts one session per process: it has nothing to keep, and starts cold.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from types import TracebackType

from agent.probe import Capabilities
from sandbox.engines import Engines
from sandbox.pool import Pools

PROBE_LIFETIME_S = 30.0


@dataclass(frozen=True)
class Probed:
    model: str
    capabilities: Capabilities
    sampling: dict[str, float]  # the serving profile's, for that model


class ProbeCache:
    """The model pick and capability probe per (endpoints, model asked, tool-call mode), for
    `lifetime_s`: sessions started close together skip listing the server's models twice."""

    def __init__(self, lifetime_s: float = PROBE_LIFETIME_S) -> None:
        self.lifetime_s = lifetime_s
        self._known: dict[tuple[tuple[str, ...], str, str], tuple[float, Probed]] = {}
        self._lock = threading.Lock()

    def get(self, urls: list[str], model: str, mode: str) -> Probed | None:
        with self._lock:
            found = self._known.get((tuple(urls), model, mode))
        if found is None or time.monotonic() - found[0] >= self.lifetime_s:
            return None
        return found[1]

    def put(self, urls: list[str], model: str, mode: str, probed: Probed) -> None:
        with self._lock:
            self._known[(tuple(urls), model, mode)] = (time.monotonic(), probed)


class Warm:
    """Pools (one per hardening spec) and the probe cache; close it when the host ends."""

    def __init__(
        self,
        pool_size: int = 2,
        probe_lifetime_s: float = PROBE_LIFETIME_S,
        engines: Engines | None = None,
    ) -> None:
        self.pools = Pools(size=pool_size, engines=engines)
        self.probes = ProbeCache(probe_lifetime_s)

    def __enter__(self) -> Warm:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.pools.close()
