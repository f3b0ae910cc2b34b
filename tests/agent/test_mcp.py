"""MCP servers run inside the sandbox, started and called only as the policy allows."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.audit import open_audit
from agent.discovery import trust_file
from agent.events import DecisionEvent, NoticeEvent
from agent.testing import Reply
from tests.agent.conftest import MCP_SERVER as SERVER
from tests.agent.conftest import POLICY, Run

pytestmark = pytest.mark.docker
MCP_POLICY = POLICY.replace(
    "limits:",
    "mcp:\n  servers: {demo: {decision: allow}}\n  tools:\n"
    '    - {match: "demo.echo", decision: allow}\n'
    '    - {match: "demo.whoami", decision: allow}\n'
    # `path: false`: the policy lets `demo.read .env` through, so the sandbox mask is tested
    '    - {match: "demo.read", decision: allow, arguments: {path: {path: false}}}\n'
    '    - {match: "demo.*", decision: ask}\n'
    "limits:",
)


def test_mcp_tools_run_inside_the_sandbox_as_a_non_root_user(
    run_session: Callable[..., Run], mcp_workspace: Path
) -> None:
    run = run_session(
        [
            Reply.call("mcp__demo__echo", text="hello from the model"),
            Reply.call("mcp__demo__whoami"),
            Reply.call("mcp__demo__read", path="/workspace/.env"),
            Reply.call("finish", summary="done"),
        ],
        policy_text=MCP_POLICY,
    )
    assert any(
        isinstance(e, NoticeEvent) and "demo started in the sandbox" in e.text for e in run.events
    )
    echo, whoami, read = run.results()[:3]
    assert "hello from the model" in echo.content
    assert echo.content.startswith("[untrusted output of MCP tool demo.echo]")
    host, uid = whoami.content.splitlines()[-1].split()
    assert host == "sandbox" and uid != "uid=0"
    assert "super-secret-value" not in read.content  # the mask holds for MCP servers too
    calls = [
        e for e in run.events if isinstance(e, DecisionEvent) and e.action["kind"] == "mcp.call"
    ]
    assert [c.decision for c in calls] == ["allow", "allow", "allow"]
    assert run.server.requests[0]["tools"][-1]["function"]["name"].startswith("mcp__demo__")


def test_an_mcp_server_the_policy_does_not_list_is_never_started(
    run_session: Callable[..., Run], mcp_workspace: Path
) -> None:
    run = run_session(
        [Reply.call("mcp__demo__echo", text="x"), Reply.call("finish", summary="done")],
        policy_text=POLICY,
    )
    assert any(isinstance(e, NoticeEvent) and "demo not started" in e.text for e in run.events)
    assert "no tool 'mcp__demo__echo'" in run.results()[0].content
    offered = [t["function"]["name"] for t in run.server.requests[0]["tools"]]
    assert not any(name.startswith("mcp__") for name in offered)


def test_an_mcp_call_the_policy_asks_about_is_denied_headless(
    run_session: Callable[..., Run], mcp_workspace: Path
) -> None:
    policy = MCP_POLICY.replace(
        '    - {match: "demo.read", decision: allow, arguments: {path: {path: false}}}\n', ""
    )
    run = run_session(
        [Reply.call("mcp__demo__read", path="calc.py"), Reply.call("finish", summary="done")],
        policy_text=policy,
    )
    decision = next(
        e for e in run.events if isinstance(e, DecisionEvent) and e.action["kind"] == "mcp.call"
    )
    assert decision.decision == "deny" and decision.approver == "headless"
    assert "return a + b" not in run.results()[0].content


def test_a_project_mcp_json_is_used_only_once_trusted_and_untrusted_again_when_changed(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    (workspace / "tools").mkdir()
    shutil.copy(SERVER, workspace / "tools" / "mcp_server.py")
    server = {"command": "python3", "args": ["/workspace/tools/mcp_server.py"]}
    checkout = workspace / ".mcp.json"
    checkout.write_text(json.dumps({"mcpServers": {"demo": server}}))
    script = [Reply.call("mcp__demo__echo", text="hi"), Reply.call("finish", summary="done")]

    run = run_session(list(script), policy_text=MCP_POLICY)
    assert any(isinstance(e, NoticeEvent) and "is not trusted" in e.text for e in run.events)
    assert "no tool 'mcp__demo__echo'" in run.results()[0].content

    trust_file(run.settings, checkout)
    run = run_session(list(script), policy_text=MCP_POLICY)
    assert "hi" in run.results()[0].content

    server["env"] = {"PYTHONSTARTUP": "/workspace/evil.py"}  # type: ignore[assignment]
    checkout.write_text(json.dumps({"mcpServers": {"demo": server}}))
    run = run_session(list(script), policy_text=MCP_POLICY)
    assert any(
        isinstance(e, NoticeEvent) and "has changed since you trusted it" in e.text
        for e in run.events
    )
    assert "no tool 'mcp__demo__echo'" in run.results()[0].content


def test_an_mcp_server_s_connection_attempts_are_in_the_session_s_audit_log(
    run_session: Callable[..., Run], workspace: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    fetch = {"command": "uvx", "args": ["mcp-server-fetch", "--ignore-robots-txt"]}
    (config / "mcp.json").write_text(json.dumps({"mcpServers": {"fetch": fetch}}))
    policy = POLICY.replace(
        "limits:",
        "mcp:\n  servers: {fetch: {decision: allow, network: [pypi.org:443]}}\n"
        '  tools:\n    - {match: "fetch.fetch", decision: allow}\nlimits:',
    )
    run = run_session(
        [
            Reply.call("mcp__fetch__fetch", url="https://example.com/"),
            Reply.call("finish", summary="done"),
        ],
        policy_text=policy,
    )
    assert run.results()[0].is_error  # the server's proxy refused the host
    records = [r for r in open_audit(run.settings).records() if r.session == run.session_id]
    egress = [r for r in records if r.kind == "egress" and (r.action or {}).get("mcp_server")]
    assert egress and egress[0].action is not None
    assert egress[0].action["host"] == "example.com" and egress[0].decision == "deny"
    assert any(r.kind == "mcp" and "server fetch started" in (r.note or "") for r in records)
