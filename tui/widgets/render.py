"""Rich renderables for transcript items: what a tool call card and a text item show."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from agent.events import DecisionEvent, ToolResultEvent
from policies.termsafe import safe, safe_line
from tui.escape import shown, visible
from tui.widgets.items import TextItem, ToolItem

HEAD_LINES = 4
TAIL_LINES = 4
BADGES = {
    "allow": ("✔ ALLOW", "bold green"),
    "ask": ("? ASK", "bold yellow"),
    "deny": ("✘ DENIED", "bold red"),
}


def action_text(tool: str, arguments: dict[str, Any]) -> Text:
    """The one line that says what the call does: a command, a path, or the arguments."""
    if "command" in arguments and isinstance(arguments["command"], str):
        return Text("$ ", style="bold") + visible(arguments["command"])
    if "path" in arguments and isinstance(arguments["path"], str):
        return Text(f"{tool} ", style="bold") + visible(arguments["path"])
    return Text(f"{tool} ", style="bold") + visible(json.dumps(arguments, ensure_ascii=False))


def decision_text(decision: DecisionEvent) -> Text:
    label, style = BADGES[decision.decision]
    line = Text.assemble((f" {label} ", f"{style} reverse"), " ")
    where = [p for p in (decision.rule, decision.source) if p]
    line.append(safe_line(" · ".join(where)) if where else "default rule", style="bold")
    if decision.layer:
        line.append(f" [{safe_line(decision.layer)} layer]", style="dim")
    if decision.approver != "policy":
        line.append(f" · by {safe_line(decision.approver)}", style="italic")
    if decision.decision != "allow" and decision.reason:
        line.append("\n  why: ", style="bold")
        line.append_text(shown(decision.reason))
    return line


def _duration(ms: float | None) -> str:
    if ms is None:
        return ""
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _lines(text: str) -> list[str]:
    """Lines split on `\\n` only: a `\\r` or `\\x0c` stays in its line, to be shown escaped."""
    if not text:
        return []
    return text.removesuffix("\n").split("\n")


def result_parts(
    result: ToolResultEvent, expanded: bool, denied_by_policy: bool = False
) -> list[RenderableType]:
    if denied_by_policy:
        return []  # the badge already says which rule denied it, and why
    status = Text()
    if result.exit_code is not None:
        style = "bold green" if result.exit_code == 0 else "bold red"
        status.append(f"exit {result.exit_code}", style=style)
    else:
        status.append(
            "error" if result.is_error else "ok",
            style="bold red" if result.is_error else "bold green",
        )
    if result.duration_ms is not None:
        status.append(f" · {_duration(result.duration_ms)}")
    if result.truncated:
        status.append(" · output truncated by the sandbox", style="italic")
    lines = _lines(result.content)
    lines_shown = lines
    if not expanded and len(lines) > HEAD_LINES + TAIL_LINES + 1:
        hidden = len(lines) - HEAD_LINES - TAIL_LINES
        lines_shown = [
            *lines[:HEAD_LINES],
            f"… {hidden} more lines (enter: expand) …",
            *lines[-TAIL_LINES:],
        ]
        status.append(f" · {len(lines)} lines")
    parts: list[RenderableType] = [status]
    if lines_shown:
        parts.append(shown("\n".join(lines_shown), style="red" if result.is_error else ""))
    if result.diff:
        from rich.syntax import Syntax  # pygments: only once a diff is shown

        diff = safe(result.diff)
        diff_lines = diff.splitlines()
        if not expanded and len(diff_lines) > 40:
            diff = "\n".join([*diff_lines[:40], f"… {len(diff_lines) - 40} more diff lines"])
        parts.append(
            Syntax(diff, "diff", theme="ansi_dark", background_color="default", word_wrap=True)
        )
    return parts


def tool_body(item: ToolItem) -> RenderableType:
    parts: list[RenderableType] = [action_text(item.call.tool, item.call.arguments)]
    for decision in item.decisions:
        if decision.action.get("kind") == "exec" and decision.action.get(
            "command"
        ) != item.call.arguments.get("command"):
            parts.append(
                Text("  action: ", style="dim") + visible(str(decision.action.get("command")))
            )
        elif decision.action.get("kind") in ("fs.read", "fs.write") and len(item.decisions) > 1:
            parts.append(
                Text(f"  {decision.action['kind']}: ", style="dim")
                + visible(str(decision.action.get("path")))
            )
        parts.append(decision_text(decision))
    if item.result is not None:
        by_policy = item.denied and all(
            d.approver == "policy" for d in item.decisions if d.decision == "deny"
        )
        parts.extend(result_parts(item.result, item.expanded, by_policy))
    elif not item.denied:
        parts.append(Text("running…", style="italic dim"))
    return Group(*parts)


def tool_title(item: ToolItem) -> Text:
    """A `Text`, not a `str`: a border title string would be parsed as markup."""
    tool = safe_line(item.call.tool)
    if item.denied:
        return Text(f"{tool} · DENIED")
    if item.result is not None and item.result.is_error:
        return Text(f"{tool} · failed")
    return Text(tool)


TEXT_LABELS = {
    "task": ("task", "bold"),
    "notice": ("note", "italic"),
    "error": ("error", "bold red"),
    "finish": ("", "bold"),
    "start": ("", "dim"),
}


def text_body(item: TextItem) -> RenderableType:
    if item.kind == "assistant":
        from rich.markdown import Markdown

        return Markdown(safe(item.text) + (" ▌" if item.streaming else ""))
    label, style = TEXT_LABELS[item.kind]
    text = Text()
    if label:
        text.append(f"{label}: ", style=style)
    text.append_text(shown(item.text, style=style if item.kind != "task" else ""))
    if item.hint:
        text.append_text(shown(f"\nhint: {item.hint}", style="italic"))
    return text
