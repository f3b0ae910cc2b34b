"""grep: search file contents with ripgrep inside the sandbox."""

from __future__ import annotations

from typing import Any

from agent.tools.base import Tool, ToolContext, ToolOutput, workspace_path
from agent.tools.output import clean, head_tail
from policies import Action, FsRead


def grep(ctx: ToolContext, pattern: str, path: str = ".", glob: str | None = None) -> ToolOutput:
    """Search file contents for a regular expression; prints file:line:text.

    Args:
        pattern: regular expression (ripgrep syntax)
        path: folder or file relative to the workspace root; default: the root
        glob: optional file-name filter, e.g. *.py
    """
    argv = ["rg", "--line-number", "--no-heading", "--color=never", "--max-columns=300"]
    if glob:
        argv += ["--glob", glob]
    argv += ["--regexp", pattern, "--", workspace_path(path)]
    result = ctx.sandbox.run(argv, cwd=".", timeout_s=ctx.timeout_s, output_cap=ctx.output_cap)
    if result.exit_code == 1:
        return ToolOutput(content="no matches", exit_code=1)
    text, cut = head_tail(clean(result.stdout or result.stderr), ctx.output_cap)
    return ToolOutput(
        content=text, is_error=result.exit_code > 1, exit_code=result.exit_code, truncated=cut
    )


def _actions(args: dict[str, Any]) -> list[Action]:
    return [FsRead(path=workspace_path(args["path"]))]


TOOL = Tool.from_function(grep, _actions)
