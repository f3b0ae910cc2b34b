"""list_files: the files under a folder, optionally filtered by a glob."""

from __future__ import annotations

from typing import Any

from agent.gitignore import GitIgnore
from agent.tools.base import Tool, ToolContext, ToolOutput, workspace_path
from policies import Action, FsRead

MAX_ENTRIES = 500


def list_files(ctx: ToolContext, path: str = ".", glob: str | None = None) -> ToolOutput:
    """List the names of the files under a folder (not their contents), recursively,
    leaving out what .gitignore ignores.

    Args:
        path: folder relative to the workspace root; default: the root
        glob: optional filter on file names, e.g. *.py
    """
    rel = workspace_path(path)
    listed = ctx.sandbox.list_files(rel, pattern=glob, recursive=True)
    gitignore = GitIgnore.load(ctx.sandbox, rel)
    entries = [entry for entry in listed if not gitignore.ignored(entry)]
    hidden = len(listed) - len(entries)
    shown = entries[:MAX_ENTRIES]
    more = f"\n... and {len(entries) - MAX_ENTRIES} more" if len(entries) > MAX_ENTRIES else ""
    note = f"\n({hidden} not shown: .git/ and what .gitignore ignores)" if hidden else ""
    if not shown:
        empty = f"no files under {rel}" + (f" matching {glob}" if glob else "")
        return ToolOutput(content=empty + note)
    return ToolOutput(content="\n".join(shown) + more + note, truncated=bool(more))


def _actions(args: dict[str, Any]) -> list[Action]:
    return [FsRead(path=workspace_path(args["path"]))]


TOOL = Tool.from_function(list_files, _actions)
