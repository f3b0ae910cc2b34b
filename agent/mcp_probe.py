"""One MCP server started through the policy and its own sandbox, without a model.

What `rempart mcp tools|pin|call` use (and tests): the same `mcp.start` decision, the same
container walls (`agent.mcp_boxes`) and the same hub as a session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agent.errors import McpError
from agent.mcp_boxes import server_sandbox
from agent.mcp_config import McpServerConfig
from agent.mcp_hub import McpHub, McpToolInfo
from policies import McpStart, PolicySet
from sandbox.policy_bridge import policy_judge, spec_from_policy
from sandbox.sandbox import Sandbox


@dataclass
class Probe:
    hub: McpHub
    box: Sandbox
    tools: list[McpToolInfo]


@contextmanager
def probe_server(
    policy: PolicySet, name: str, config: McpServerConfig, workspace: Path, image: str
) -> Iterator[Probe]:
    """Start `name` if the policy allows it outright (no person to ask here)."""
    decision = policy.evaluate(McpStart(server=name))
    if decision.decision != "allow":
        raise McpError(
            f"the policy does not let MCP server {name!r} start: {decision.decision} "
            f"({decision.rule}: {decision.reason})",
            hint=f"add `mcp.servers.{name}: {{decision: allow}}` to a policy layer",
        )
    spec = spec_from_policy(policy, workspace, image)
    box = server_sandbox(policy, name, spec, policy_judge(policy))
    with McpHub() as hub:
        box.start()
        try:
            tools = hub.start(name, config, box, writes=policy.mcp_workspace(name) == "rw")
        except BaseException:
            box.close()
            raise
        yield Probe(hub, box, tools)
