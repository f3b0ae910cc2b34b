"""An MCP server's tool, offered to the model next to the built-in tools.

Named `mcp__SERVER__TOOL`; its schema is the server's; each call is the policy action
`mcp.call` (server, tool, arguments) and runs in the sandbox through the `McpHub`. Its
output is marked as untrusted: it comes from a program the model must not obey.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from agent.mcp_hub import McpHub, McpToolInfo
from agent.mcp_untrusted import cleaned, strip
from agent.tools.base import ToolArgumentError, ToolContext, ToolOutput
from agent.tools.output import clean, head_tail
from policies import Action, McpCall

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="allow")


def tool_name(server: str, tool: str) -> str:
    return _UNSAFE.sub("_", f"mcp__{server}__{tool}")[:64]


@dataclass(frozen=True)
class McpTool:
    info: McpToolInfo
    hub: McpHub

    @property
    def name(self) -> str:
        return tool_name(self.info.server, self.info.name)

    def schema(self) -> dict[str, Any]:
        # every string of the schema (names, descriptions, enums...) loses hidden characters
        parameters = cleaned(self.info.input_schema) or {"type": "object", "properties": {}}
        text = strip(self.info.description)  # no invisible or tag characters reach the model
        description = f"[MCP server {self.info.server}] {text}".strip()
        return {
            "type": "function",
            "function": {"name": self.name, "description": description, "parameters": parameters},
        }

    def repair(self, arguments: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        return arguments, []

    def parse(self, arguments: dict[str, Any]) -> BaseModel:
        if not isinstance(arguments, dict):
            raise ToolArgumentError(f"arguments for {self.name} must be a JSON object")
        return _Arguments.model_validate(arguments)

    def approval_note(self) -> str:
        """What an approval prompt shows for a call: the server's own words about the tool,
        whole and escaped, and what the scan found anywhere in its definition (where)."""
        lines = [f"MCP tool {self.info.server}.{self.info.name} (its server is untrusted)"]
        if self.info.flags:
            lines.append("FLAGGED description or input schema:")
            lines.extend(f"  {clean(flag)}" for flag in self.info.flags)
        lines.append("description: " + clean(strip(self.info.description)))
        if self.info.annotations:
            lines.append(f"annotations (the server's claims): {self.info.annotations}")
        return "\n".join(lines)

    def actions_for(self, args: BaseModel) -> list[Action]:
        return [mcp_call_action(self.info, args.model_dump())]

    def call(self, ctx: ToolContext, args: BaseModel) -> ToolOutput:
        result = self.hub.call(self.info.server, self.info.name, args.model_dump(), ctx.timeout_s)
        body, cut = head_tail(clean(result.text), ctx.output_cap)
        marked = f"[untrusted output of MCP tool {self.info.server}.{self.info.name}]\n{body}"
        return ToolOutput(content=marked, is_error=result.is_error, truncated=cut or result.cut)


def mcp_call_action(info: McpToolInfo, arguments: dict[str, Any]) -> McpCall:
    """The one place an `mcp.call` action is built (the agent's tool and `rempart mcp call`):
    the tool's annotations as its server listed them, for the policy's argument rules."""
    return McpCall(
        server=info.server, tool=info.name, arguments=arguments, annotations=info.annotations
    )
