"""What an approval prompt shows before the person decides: the change a file tool will
make, as a unified diff computed from the tool's arguments and the file as it is now.

Read through the sandbox (its view), so a read-denied file's content never appears.
Commands show their segments (the Decision has them) and MCP calls their arguments; only
file writes need this module.
"""

from __future__ import annotations

from pydantic import BaseModel

from agent.tools.base import ToolArgumentError, ToolContext, workspace_path
from agent.tools.write_file import current_text, unified_diff
from sandbox.errors import SandboxError


def preview(tool: str, args: BaseModel, ctx: ToolContext) -> str | None:
    """The full diff `tool` would apply (None when the tool writes no file)."""
    fields = dict(args)
    if tool == "rename_symbol":  # the file being asked about is in the request's action
        return (
            f"(renames every whole-word `{fields.get('old')}` to `{fields.get('new')}` in the "
            "file named above)"
        )
    if tool not in ("write_file", "edit_file"):
        return None
    try:
        rel = workspace_path(str(fields.get("path", "")))
        before = current_text(ctx, rel)
    except (ToolArgumentError, SandboxError) as exc:
        return f"(no preview: {exc})"
    if tool == "write_file":
        after = str(fields.get("content", ""))
        return unified_diff(rel, before or "", after) or "(no change: same content)"
    old, new = str(fields.get("old", "")), str(fields.get("new", ""))
    if before is None:
        return f"(edit_file will fail: {rel} does not exist)"
    count = before.count(old) if old else 0
    if count != 1:
        return f"(edit_file will fail: the text to replace occurs {count} times in {rel})"
    return unified_diff(rel, before, before.replace(old, new, 1)) or "(no change)"
