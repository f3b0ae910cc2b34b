"""Typed messages between the session worker, the widgets and the screens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from agent.events import Event, FinishEvent


class SessionEvent(Message):
    """An event from the running session (posted from its worker thread)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class SessionEnded(Message):
    """The session's worker is done: `finish` is None when it never started."""

    def __init__(self, finish: FinishEvent | None) -> None:
        super().__init__()
        self.finish = finish


class SessionFailed(Message):
    """A problem for a person (a `RempartError`): shown once, as a notification."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__()
        self.message = message
        self.hint = hint


class ApprovalPending(Message):
    """The session waits for an answer to an `ask` decision."""


class JumpToCard(Message):
    """Show the card of a tool call in the transcript (from the audit view)."""

    def __init__(self, session_id: str, ordinal: int, kind: str) -> None:
        super().__init__()
        self.session_id = session_id
        self.ordinal = ordinal
        self.kind = kind


class ResumeSession(Message):
    """Resume a stored session (from the sessions list)."""

    def __init__(self, session_id: str) -> None:
        super().__init__()
        self.session_id = session_id
