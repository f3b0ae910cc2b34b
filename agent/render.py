"""Plain-text rendering of session events for a terminal (the headless CLI's human mode).

Every field that can carry model-made or untrusted text (file contents, output, diffs,
assistant text, the finish summary, reasons, paths) goes through `policies.termsafe`, so a
file the agent reads cannot move the cursor, retitle the window or overwrite a line.
`--json` keeps the data raw: JSON escapes controls, and `json_safe` the rest.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

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
    UsageEvent,
)
from policies.termsafe import json_safe, safe, safe_line

MAX_SHOWN = 1200
DIFF_LINES = 80


def _short(args: dict[str, object]) -> str:
    text = safe_line(json.dumps(args, ensure_ascii=False))
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
                layers = "\n  ".join(safe_line(layer) for layer in event.policy_layers)
                return (
                    f"session {event.session_id} on {safe_line(event.model)} "
                    f"({event.tool_call_mode} tool calls)"
                    f"\nworkspace {safe_line(event.workspace)}, network {safe_line(event.network)}"
                    f"\npolicy:\n  {layers}"
                )
            case AssistantText():
                return f"\nassistant: {safe(event.text.strip())}"
            case ToolCallEvent():
                return f"\n> {safe_line(event.tool)} {_short(event.arguments)}" + (
                    " (repaired)" if event.repaired else ""
                )
            case DecisionEvent():
                where = ", ".join(p for p in (event.rule, event.source) if p) or "default"
                return (
                    f"  policy: {event.decision.upper()} [{safe_line(where)}]"
                    f" via {safe_line(event.approver)}"
                    + (f": {safe_line(event.reason)}" if event.decision != "allow" else "")
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
                    + safe(body).replace("\n", "\n    ")
                    + (f"\n{safe(event.diff)}" if event.diff else "")
                )
            case UsageEvent():
                return None
            case NoticeEvent():
                return f"  note: {safe(event.text)}"
            case CheckEvent():
                record = event.check
                state = safe_line(record.state())
                return f"  check {event.label()}: `{safe_line(record.command)}` {state}" + (
                    f" (exit {record.exit_code})" if record.exit_code is not None else ""
                )
            case FinishEvent():
                return finish_text(event)
            case ErrorEvent():
                return f"error: {safe(event.message)}" + (
                    f"\nhint: {safe(event.hint)}" if event.hint else ""
                )
            case AssistantDelta():
                return None
        return None


def finish_text(event: FinishEvent) -> str:
    """The end of a run, from evidence; the last line is the outcome."""
    parts: list[str] = []
    if event.diff:
        lines = event.diff.splitlines()
        shown = "\n".join(lines[:DIFF_LINES])
        more = f"\n[... {len(lines) - DIFF_LINES} more diff lines: rempart sessions show ...]"
        parts.append(
            "\n--- session diff ---\n" + safe(shown) + (more if len(lines) > DIFF_LINES else "")
        )
    if event.claim is not None:
        claim = event.claim if len(event.claim) < MAX_SHOWN else event.claim[:MAX_SHOWN] + "…"
        parts.append(f"\nmodel's claim (not checked): {safe(claim)}")
    outcome, _, facts = event.summary.partition("\n")
    if facts:
        parts.append(safe(facts))
    parts.append(f"{event.status}: {safe(outcome)}")
    return "\n".join(parts)


class JsonPrinter:
    """One JSON object per line, for CI and scripts (deltas left out)."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out

    def __call__(self, event: Event) -> None:
        if not isinstance(event, AssistantDelta):
            print(json_safe(event.model_dump_json()), file=self.out, flush=True)
