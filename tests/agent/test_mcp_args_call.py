"""A real MCP call in a real sandbox is judged by its arguments: a path argument naming a
read-denied file is denied by the same files rule as `read_file`, before the server runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.events import DecisionEvent
from agent.testing import Reply
from tests.agent.conftest import POLICY, Run

pytestmark = pytest.mark.docker


def policy(read_rule: str) -> str:
    return POLICY.replace(
        "limits:",
        "mcp:\n  servers: {demo: {decision: allow}}\n  tools:\n" + read_rule + "limits:",
    )


FLAGGED = policy("    - {match: demo.read, decision: allow, arguments: {path: {path: read}}}\n")
BARE = policy("    - {match: demo.read, decision: allow}\n")  # unflagged strings are sniffed


@pytest.mark.parametrize(
    ("policy_text", "secret"),
    [
        (FLAGGED, "/workspace/.env"),
        (FLAGGED, "tools/../.ENV"),  # normalised and case-folded like read_file
        (BARE, "/proc/self/root/workspace/.env"),  # a variant no rule names as a path
    ],
    ids=["flagged-absolute", "flagged-dotdot-case", "unflagged-proc-root"],
)
def test_an_mcp_call_naming_a_read_denied_file_is_denied_by_the_files_rule(
    run_session: Callable[..., Run], mcp_workspace: Path, policy_text: str, secret: str
) -> None:
    run = run_session(
        [
            Reply.call("mcp__demo__read", path="calc.py"),
            Reply.call("mcp__demo__read", path=secret),
            Reply.call("finish", summary="done"),
        ],
        policy_text=policy_text,
    )
    calls = [
        e for e in run.events if isinstance(e, DecisionEvent) and e.action["kind"] == "mcp.call"
    ]
    assert [c.decision for c in calls] == ["allow", "deny"]
    assert calls[1].rule == "files.read.deny[0]" and calls[1].approver == "policy"
    allowed, denied = run.results()[:2]
    assert "def add" in allowed.content  # the server really ran for the allowed call
    assert "super-secret-value" not in denied.content
    assert "denied" in denied.content
