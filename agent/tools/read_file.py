"""read_file: a text file (or a range of its lines), with line numbers."""

from __future__ import annotations

from typing import Any

from agent.tools.base import Tool, ToolContext, ToolOutput, workspace_path
from policies import Action, FsRead

MAX_LINES = 400


def read_file(
    ctx: ToolContext, path: str, start_line: int = 1, end_line: int | None = None
) -> ToolOutput:
    """Show the contents of a file, with line numbers. Use it to see what is in a file.

    Args:
        path: file path relative to the workspace root (no leading slash)
        start_line: first line to show (1-based)
        end_line: last line to show (inclusive); default: up to 400 lines from start_line
    """
    rel = workspace_path(path)
    data = ctx.sandbox.read_file(rel)
    if b"\x00" in data[:8192]:
        return ToolOutput(content=f"{rel} is a binary file ({len(data)} bytes)", is_error=True)
    lines = data.decode("utf-8", errors="replace").splitlines()
    first = max(start_line, 1)
    last = min(end_line or first + MAX_LINES - 1, len(lines), first + MAX_LINES - 1)
    ctx.files_read.add(rel)
    if not lines:
        return ToolOutput(content=f"{rel} is empty")
    shown = "\n".join(f"{n:5}| {lines[n - 1]}" for n in range(first, last + 1))
    more = f"\n... ({len(lines) - last} more lines)" if last < len(lines) else ""
    return ToolOutput(content=f"{rel} lines {first}-{last} of {len(lines)}:\n{shown}{more}")


def _actions(args: dict[str, Any]) -> list[Action]:
    return [FsRead(path=workspace_path(args["path"]))]


TOOL = Tool.from_function(read_file, _actions)
