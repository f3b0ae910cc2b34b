"""run: a shell command in the sandbox."""

from __future__ import annotations

from typing import Any

from agent.tools.base import Tool, ToolContext, ToolOutput
from agent.tools.focus import focus
from agent.tools.ignored_args import ignored_arguments
from agent.tools.output import clean, head_tail
from policies import Action, Exec


def run(ctx: ToolContext, command: str, timeout_s: float | None = None) -> ToolOutput:
    """Run a shell command line in the workspace, e.g. `ls -la`, `pytest -q`, `python3 app.py`.

    Args:
        command: the command line, e.g. python3 hello.py or pytest -q
        timeout_s: seconds before the command is killed (default and maximum: the policy's limit)
    """
    timeout = min(timeout_s or ctx.timeout_s, ctx.timeout_s)
    result = ctx.sandbox.run(command, cwd=".", timeout_s=timeout, output_cap=ctx.output_cap)
    status = "ok" if result.exit_code == 0 else "FAILED"
    if result.timed_out:
        status = f"TIMED OUT after {timeout:.0f} s"
    stdout, cut_out = head_tail(clean(result.stdout), ctx.output_cap // 2)
    stderr, cut_err = head_tail(clean(result.stderr), ctx.output_cap // 2)
    parts = [f"exit code: {result.exit_code} ({status})"]
    if stdout:
        parts.append(f"stdout:\n{stdout}")
    if stderr:
        parts.append(f"stderr:\n{stderr}")
    if not stdout and not stderr:
        parts.append("(no output)")
    where = focus(f"{result.stdout}\n{result.stderr}") if ctx.aids and result.exit_code else ""
    if where:
        parts.append(where)
    ignored = ignored_arguments(ctx.sandbox, command) if ctx.aids else ""
    if ignored:
        parts.append(ignored)
    return ToolOutput(
        content="\n".join(parts),
        is_error=result.exit_code != 0,
        exit_code=result.exit_code,
        duration_ms=result.duration_ms,
        truncated=result.truncated or cut_out or cut_err,
    )


def _actions(args: dict[str, Any]) -> list[Action]:
    return [Exec(command=args["command"])]


TOOL = Tool.from_function(run, _actions)
