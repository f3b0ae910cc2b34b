"""The seam between the TUI and the agent: a session factory and what the TUI needs of a session.

The default factory builds the real `agent.session.Session` from `Settings()`; tests inject
a factory that replays scripted events (or the real one against a scripted model server).
`agent.session` (openai, docker) is imported lazily, on the worker thread, so that the first
paint never waits for it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from agent.events import Event, FinishEvent
    from agent.session import SessionOptions
    from agent.settings import Settings

Listener = Callable[["Event"], None]


class SessionLike(Protocol):
    """What the TUI uses of a running session."""

    id: str

    def run(self) -> FinishEvent: ...

    def stop(self) -> None: ...


SessionFactory = Callable[["SessionOptions", list[Listener]], AbstractContextManager[SessionLike]]


def real_session_factory(settings: Settings) -> SessionFactory:
    """Sessions as `rempart run` builds them: policy, model probe, Docker sandbox."""

    def build(options: SessionOptions, listeners: list[Listener]) -> AbstractContextManager[Any]:
        from agent.session import Session

        return Session(settings, options, listeners)

    return build
