"""The transcript's data: session events folded into items (one per tool call, text, notice).

Pure data (no widgets), so that 2,000 events cost 2,000 small objects, and only the items in
view get a widget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from agent.events import (
    AssistantDelta,
    AssistantText,
    CheckEvent,
    DecisionEvent,
    ErrorEvent,
    Event,
    FinishEvent,
    NoticeEvent,
    SessionStarted,
    ToolCallEvent,
    ToolResultEvent,
)


def finish_text(event: FinishEvent) -> str:
    """The outcome from evidence first; the model's words only as its claim."""
    text = f"{event.status}: {event.summary}"
    if event.claim is not None:
        text += f"\nmodel's claim (not checked): {event.claim}"
    return text


TextKind = Literal["assistant", "notice", "error", "finish", "start", "task"]


@dataclass
class ToolItem:
    call: ToolCallEvent
    decisions: list[DecisionEvent] = field(default_factory=list)
    result: ToolResultEvent | None = None
    expanded: bool = False
    version: int = 0

    @property
    def denied(self) -> bool:
        return any(d.decision == "deny" for d in self.decisions)


@dataclass
class TextItem:
    kind: TextKind
    text: str
    hint: str = ""
    streaming: bool = False
    version: int = 0


Item = ToolItem | TextItem


class Items:
    """Folds events into items; `add` returns (index, is_new) of the item it touched, or None."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self._calls: dict[tuple[str, str], int] = {}
        self._streaming: int | None = None
        self.decisions: list[tuple[str, int]] = []  # (session id, item index) in order
        self.results: list[tuple[str, int]] = []

    def __len__(self) -> int:
        return len(self.items)

    def _append(self, item: Item) -> tuple[int, bool]:
        self.items.append(item)
        return len(self.items) - 1, True

    def _touch(self, index: int) -> tuple[int, bool]:
        self.items[index].version += 1
        return index, False

    def add(self, event: Event) -> tuple[int, bool] | None:
        match event:
            case AssistantDelta():
                if self._streaming is None:
                    self._streaming, _ = self._append(
                        TextItem("assistant", event.text, streaming=True)
                    )
                    return self._streaming, True
                item = self.items[self._streaming]
                assert isinstance(item, TextItem)
                item.text += event.text
                return self._touch(self._streaming)
            case AssistantText():
                streaming = self._streaming
                if streaming is not None:
                    self._streaming = None
                    index = streaming
                    item = self.items[index]
                    assert isinstance(item, TextItem)
                    item.text, item.streaming = event.text, False
                    return self._touch(index)
                return self._append(TextItem("assistant", event.text))
            case ToolCallEvent():
                self._end_stream()
                index, new = self._append(ToolItem(event))
                self._calls[(event.session_id, event.call_id)] = index
                return index, new
            case DecisionEvent():
                found = self._calls.get((event.session_id, event.call_id))
                if found is None:
                    return None
                tool = self.items[found]
                assert isinstance(tool, ToolItem)
                tool.decisions.append(event)
                self.decisions.append((event.session_id, found))
                return self._touch(found)
            case ToolResultEvent():
                found = self._calls.get((event.session_id, event.call_id))
                if found is None:
                    return None
                tool = self.items[found]
                assert isinstance(tool, ToolItem)
                tool.result = event
                self.results.append((event.session_id, found))
                return self._touch(found)
            case SessionStarted():
                self._end_stream()
                verb = "resumed" if event.resumed else "started"
                text = f"session {event.session_id} {verb} · {event.model} · {event.workspace}"
                return self._append(TextItem("start", text))
            case NoticeEvent():
                return self._append(TextItem("notice", event.text))
            case ErrorEvent():
                self._end_stream()
                return self._append(TextItem("error", event.message, hint=event.hint))
            case FinishEvent():
                self._end_stream()
                return self._append(TextItem("finish", finish_text(event)))
            case CheckEvent():
                record = event.check
                state, source = record.state(), record.source
                text = f"check {event.label()}: `{record.command}` {state} ({source})"
                return self._append(TextItem("notice", text))
        return None

    def add_task(self, task: str) -> tuple[int, bool]:
        self._end_stream()
        return self._append(TextItem("task", task))

    def _end_stream(self) -> None:
        if self._streaming is not None:
            item = self.items[self._streaming]
            assert isinstance(item, TextItem)
            item.streaming = False
            self._streaming = None

    def find(self, session_id: str, ordinal: int, kind: str) -> int | None:
        """Item index of the `ordinal`-th (0-based) decision or result of a session."""
        chosen = self.decisions if kind == "decision" else self.results
        matches = [index for sid, index in chosen if sid == session_id]
        return matches[ordinal] if 0 <= ordinal < len(matches) else None
