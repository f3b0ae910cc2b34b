"""write_file: create a file or replace it whole (edit_file is for changes to existing files)."""

from __future__ import annotations

import difflib
import hashlib
from typing import Any

from agent.tools import constant, lint, syntax_guard
from agent.tools.base import Tool, ToolContext, ToolOutput, workspace_path
from agent.tools.pasted import unpaste
from policies import Action, FsWrite

LARGE_REWRITE_LINES = 40


def unified_diff(path: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
    )
    return "".join(lines)


def current_bytes(ctx: ToolContext, rel: str) -> bytes | None:
    """The whole file, or None when it does not exist yet. One read answers a part at most
    (16 MiB from the executor): a file written back from one read lost its tail."""
    entry = ctx.sandbox.stat(rel)
    if not entry.exists:
        return None
    data = ctx.sandbox.read_file(rel)
    while len(data) < entry.size:
        more = ctx.sandbox.read_file(rel, offset=len(data))
        if not more:  # cut shorter since the stat
            break
        data += more
    return data


def current_text(ctx: ToolContext, rel: str) -> str | None:
    """The file's text, or None when it does not exist yet."""
    data = current_bytes(ctx, rel)
    return None if data is None else data.decode("utf-8", errors="replace")


def write_file(ctx: ToolContext, path: str, content: str) -> ToolOutput:
    """Create a new file with the given content (or replace a whole file).

    To change part of an existing file, use edit_file instead.

    Args:
        path: file path relative to the workspace root (no leading slash)
        content: the complete new content of the file
    """
    rel = workspace_path(path)
    repairs: list[str] = []
    if ctx.aids:
        content, repairs = unpaste(content)
    before = current_text(ctx, rel)
    fixes: list[str] = []
    if ctx.aids:
        content, fixes, refusal = syntax_guard.guard(rel, before, content)
        if refusal:
            return ToolOutput(content=refusal, is_error=True, repairs=repairs)
    if ctx.aids and (refusal := _held_once(ctx, rel, before, content)):
        return ToolOutput(content=refusal, is_error=True, repairs=repairs + fixes, again=True)
    ctx.sandbox.write_file(rel, content.encode("utf-8"))
    ctx.originals.setdefault(rel, before)
    ctx.files_read.add(rel)  # the model knows what it wrote
    diff = unified_diff(rel, before or "", content)
    lines = content.count("\n") + (0 if content.endswith("\n") else 1)
    message = f"wrote {rel} ({lines} lines, {len(content.encode())} bytes)"
    if before is not None and before.count("\n") > LARGE_REWRITE_LINES:
        message += (
            "\nnote: you replaced a whole existing file; for small changes use edit_file "
            "(read_file first, then replace the exact text)"
        )
    if repairs:
        pasted = any(r.startswith("removed") for r in repairs)
        message += "\nnote: " + "; ".join(repairs) + (" (tool output is not file text)" * pasted)
    if fixes:
        message += "\nnote: " + "; ".join(fixes)
    if ctx.aids:
        message += lint.warning(lint.new_problems(rel, ctx.originals[rel], content))
        message += constant.ignored_inputs(rel, before, content)
        message += lint.same_code(rel, before, content)
        message += lint.lost_definitions(rel, before, content)
    return ToolOutput(content=message, diff=diff, repairs=repairs + fixes)


def _held_once(ctx: ToolContext, rel: str, before: str | None, content: str) -> str:
    """A whole-file write that drops functions or classes the file defined, or replaces a
    file the session never read, is refused the first time (a small model rewriting one
    function often writes only that one; in create_wordfreq it overwrote the task's input
    data/notes.txt with a sample of its own); the same write sent again is applied."""
    lost = lint.lost_names(rel, before, content)
    unread = before is not None and before != content and rel not in ctx.files_read
    key = hashlib.sha256(f"{rel}\0{content}".encode()).hexdigest()
    if not (lost or unread) or key in ctx.held:
        return ""
    ctx.held.add(key)
    if not lost:
        lines = before.count("\n") + 1 if before else 0
        return (
            f"not written: {rel} exists ({lines} lines) and you have not read it in this "
            "session; this write would replace all of it. Read it first with read_file (to "
            "change part of it, use edit_file). If replacing it is what the task needs, "
            "send this same write_file again."
        )
    names = ", ".join(lost[:10]) + (" ..." if len(lost) > 10 else "")
    return (
        f"not written: {rel} would no longer define {names} (it does now). To change one "
        "function, use edit_file with its lines as `old`; a whole-file write must keep "
        "everything the file has. If removing them is what the task needs, send this same "
        "write_file again."
    )


def _actions(args: dict[str, Any]) -> list[Action]:
    return [FsWrite(path=workspace_path(args["path"]))]


TOOL = Tool.from_function(write_file, _actions)
