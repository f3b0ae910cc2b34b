"""read_file: a text file (or a range of its lines), shown so it can be copied back as is.

The text comes after one header line and is not numbered: a small model that pastes it
into `write_file` or `edit_file` pastes the file's own text (measured in issue 12: with a
`   12| ` gutter on every line, the 1.5B model copied the numbers into files).
"""

from __future__ import annotations

from typing import Any

from agent.tools.base import Tool, ToolContext, ToolOutput, workspace_path
from agent.tools.pasted import header
from policies import Action, FsRead

MAX_LINES = 400


def read_file(
    ctx: ToolContext, path: str, start_line: int = 1, end_line: int | None = None
) -> ToolOutput:
    """Show the text of a file. The first line of the answer is a header, not file text.

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
    if not ctx.aids:
        shown = "\n".join(f"{n:5}| {lines[n - 1]}" for n in range(first, last + 1))
        more = f"\n... ({len(lines) - last} more lines)" if last < len(lines) else ""
        return ToolOutput(content=f"{rel} lines {first}-{last} of {len(lines)}:\n{shown}{more}")
    shown = "\n".join(lines[first - 1 : last])
    more = ""
    if last < len(lines):
        more = f"\n[... {len(lines) - last} more lines: read_file with start_line={last + 1} ...]"
    return ToolOutput(content=f"{header(rel, first, last, len(lines))}\n{shown}{more}")


def _actions(args: dict[str, Any]) -> list[Action]:
    return [FsRead(path=workspace_path(args["path"]))]


TOOL = Tool.from_function(read_file, _actions)
