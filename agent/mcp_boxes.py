"""Each MCP server gets its own sandbox: the agent's hardened container, with the server's walls.

A second `sandbox.Sandbox` from the session's spec, changed only where the policy's
`mcp.servers.NAME` says: its network table (`network: [hosts]`, none by default; the
policy's deny rules still bind it), and how it sees the workspace (`workspace: none` an
empty folder, `ro` the read view whose changes never reach the host, `rw` the read view
whose changes are judged like the agent's). The hardening (read-only root, no
capabilities, limits, non-root user, read-denied files absent) is the Sandbox's own code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Protocol

from policies import FsRead
from policies.netrules import NetTable
from sandbox.changes import Change, Judge, Verdict
from sandbox.engines import Engines
from sandbox.policy_bridge import readable
from sandbox.sandbox import Sandbox
from sandbox.spec import SandboxSpec

LABEL_SERVER = "rempart.mcp-server"


class _Decision(Protocol):
    @property
    def decision(self) -> str: ...


class McpPolicy(Protocol):
    """What a server's sandbox needs from `policies.PolicySet`."""

    def evaluate(self, action: FsRead) -> _Decision: ...
    def mcp_network_table(self, server: str) -> NetTable | None: ...
    def mcp_workspace(self, server: str) -> str: ...


def _read_only(change: Change) -> Verdict:
    return Verdict(allowed=False, reason="the MCP server sees the workspace read-only")


def _nothing(_path: str) -> bool:
    return False


def server_spec(policy: McpPolicy, server: str, base: SandboxSpec) -> SandboxSpec:
    """The session's spec with the server's own network and a label naming it."""
    table = policy.mcp_network_table(server)
    allow: tuple[str, ...] = ()
    if table is not None:
        allow = tuple(
            rule["pattern"]
            for layer in table["layers"]
            for rule in layer["rules"]
            if rule["decision"] == "allow"
        )
    return base.model_copy(
        update={
            "network_rules": json.dumps(table, sort_keys=True) if table is not None else "",
            "network_allow": allow,
            "labels": {**base.labels, LABEL_SERVER: server},
        }
    )


def server_sandbox(
    policy: McpPolicy,
    server: str,
    base: SandboxSpec,
    judge: Judge | None = None,
    engines: Engines | None = None,
) -> Sandbox:
    """A (not started) sandbox for `server`, placed like the agent's (`engines`); `judge`
    decides an `rw` server's changes."""
    mode = policy.mcp_workspace(server)
    shown: Callable[[str], bool] = _nothing if mode == "none" else readable(policy)  # type: ignore[arg-type]
    decide: Judge = judge if (mode == "rw" and judge is not None) else _read_only
    spec = server_spec(policy, server, base)
    return Sandbox(spec, readable=shown, judge=decide, engines=engines)
