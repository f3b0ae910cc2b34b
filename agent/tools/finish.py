"""finish: the model's explicit end of the task."""

from __future__ import annotations

from typing import Any

from agent.tools.base import Tool, ToolContext, ToolOutput
from policies import Action


def finish(ctx: ToolContext, summary: str) -> ToolOutput:
    """End the task. Call it only when the work is done and checked (commands exit 0).

    Args:
        summary: what you did and how you checked it
    """
    return ToolOutput(content=summary, finished=True)


def _actions(args: dict[str, Any]) -> list[Action]:
    return []


TOOL = Tool.from_function(finish, _actions)
