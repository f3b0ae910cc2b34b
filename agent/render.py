"""Plain-text rendering of session events for a terminal (the headless CLI's human mode)."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from agent.events import (
    AssistantDelta,
    AssistantText,
    DecisionEvent,
    ErrorEvent,
    Event,
    FinishEvent,
    NoticeEvent,
    SessionStarted,
    ToolCallEvent,
    ToolResultEvent,
    UsageEvent,
)

MAX_SHOWN = 1200


def _short(args: dict[str, object]) -> str:
    text = json.dumps(args, ensure_ascii=False)
    return text if len(text) < 200 else text[:200] + "…"


class TextPrinter:
    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out

    def __call__(self, event: Event) -> None:
        line = self.line(event)
        if line is not None:
            print(line, file=self.out, flush=True)

    def line(self, event: Event) -> str | None:
        match event:
            case SessionStarted():
                layers = "\n  ".join(event.policy_layers)
                return (
                    f"session {event.session_id} on {event.model} "
                    f"({event.tool_call_mode} tool calls)"
                    f"\nworkspace {event.workspace}, network {event.network}\npolicy:\n  {layers}"
                )
            case AssistantText():
                return f"\nassistant: {event.text.strip()}"
            case ToolCallEvent():
                return f"\n> {event.tool} {_short(event.arguments)}" + (
                    " (repaired)" if event.repaired else ""
                )
            case DecisionEvent():
                where = ", ".join(p for p in (event.rule, event.source) if p) or "default"
                return f"  policy: {event.decision.upper()} [{where}] via {event.approver}" + (
                    f": {event.reason}" if event.decision != "allow" else ""
                )
            case ToolResultEvent():
                body = (
                    event.content
                    if len(event.content) < MAX_SHOWN
                    else event.content[:MAX_SHOWN] + "…"
                )
                mark = "error" if event.is_error else "ok"
                return (
                    f"  [{mark}] "
                    + body.replace("\n", "\n    ")
                    + (f"\n{event.diff}" if event.diff else "")
                )
            case UsageEvent():
                return None
            case NoticeEvent():
                return f"  note: {event.text}"
            case FinishEvent():
                return f"\n{event.status}: {event.summary}"
            case ErrorEvent():
                return f"error: {event.message}" + (f"\nhint: {event.hint}" if event.hint else "")
            case AssistantDelta():
                return None
        return None


class JsonPrinter:
    """One JSON object per line, for CI and scripts (deltas left out)."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out

    def __call__(self, event: Event) -> None:
        if not isinstance(event, AssistantDelta):
            print(event.model_dump_json(), file=self.out, flush=True)
