"""edit_file: replace one exact, unique piece of text in an existing file."""

from __future__ import annotations

from typing import Any

from agent.tools.base import Tool, ToolContext, ToolOutput, workspace_path
from agent.tools.write_file import current_text, unified_diff
from policies import Action, FsRead, FsWrite


def edit_file(ctx: ToolContext, path: str, old: str, new: str) -> ToolOutput:
    """Replace exactly one occurrence of `old` with `new` in a file. Read the file first.

    Args:
        path: file path relative to the workspace root
        old: the exact text to replace, copied from read_file output (without line
            numbers); it must occur exactly once
        new: the replacement text
    """
    rel = workspace_path(path)
    before = current_text(ctx, rel)
    if before is None:
        return ToolOutput(
            content=f"{rel} does not exist: use write_file to create it", is_error=True
        )
    if not old:
        return ToolOutput(content="`old` is empty: give the exact text to replace", is_error=True)
    count = before.count(old)
    if count == 0:
        return ToolOutput(
            content=f"`old` was not found in {rel}: read_file it and copy the text exactly "
            "(whitespace included, line numbers excluded)",
            is_error=True,
        )
    if count > 1:
        return ToolOutput(
            content=f"`old` occurs {count} times in {rel}: include more surrounding lines so "
            "it matches exactly once",
            is_error=True,
        )
    after = before.replace(old, new, 1)
    ctx.sandbox.write_file(rel, after.encode("utf-8"))
    return ToolOutput(content=f"edited {rel}", diff=unified_diff(rel, before, after))


def _actions(args: dict[str, Any]) -> list[Action]:
    rel = workspace_path(args["path"])
    return [FsRead(path=rel), FsWrite(path=rel)]


TOOL = Tool.from_function(edit_file, _actions)
