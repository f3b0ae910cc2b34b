"""The egress proxy's log reaches the audit log even across sandbox restarts and replacements."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.approved import ApprovedStore
from agent.audit import AuditLog
from agent.runner import CallRunner, SandboxHandle
from policies import PolicySet
from sandbox import Sandbox
from sandbox.policy_bridge import spec_from_policy
from tests.sandbox.cpu_load import ANSWERED, FIRST_CONNECTION

pytestmark = pytest.mark.docker

POLICY = "version: 1\nname: t\nnetwork:\n  allow: [pypi.org:443]\n"


def test_connections_no_call_recorded_are_recorded_from_restarted_and_replaced_sandboxes(
    tmp_path: Path, image: str
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    os.chown(ws, 1000, 1000)
    spec = spec_from_policy(PolicySet.from_texts([("org", "p.yaml", POLICY)]), ws, image)

    def start() -> Sandbox:
        box = Sandbox(spec)
        box.start()
        return box

    audit = AuditLog(tmp_path / "audit.jsonl", tmp_path / "audit.key", tmp_path / "head")
    handle = SandboxHandle(start)
    policy = PolicySet.from_texts([("org", "p.yaml", POLICY)])
    runner = CallRunner(
        "s1", policy, None, handle, audit, lambda e: e, lambda: None, ApprovedStore(tmp_path)
    )
    sandboxes = []
    try:
        first = handle.current
        assert isinstance(first, Sandbox)
        # connections made outside any call (a background process would): nothing recorded yet
        assert first.run(["python3", "-c", FIRST_CONNECTION]).stdout.strip() == ANSWERED
        sandboxes.append(first.session)
        first.restart()  # the sandbox rebuilds itself (new container, new proxy)
        assert first.run(["python3", "-c", FIRST_CONNECTION]).stdout.strip() == ANSWERED
        sandboxes.append(first.session)
        runner.replace_sandbox()  # a dead sandbox replaced by a fresh one
        second = handle.current
        assert isinstance(second, Sandbox)
        assert second.run(["python3", "-c", FIRST_CONNECTION]).stdout.strip() == ANSWERED
        sandboxes.append(second.session)
        runner.record_egress()  # what Session.close() does before closing the sandbox
    finally:
        handle.current.close()
    egress = [r for r in audit.records() if r.kind == "egress"]
    assert [(r.decision, (r.action or {}).get("host")) for r in egress] == [
        ("deny", "denied.invalid")
    ] * 3
    assert [(r.action or {}).get("sandbox") for r in egress] == sandboxes
    assert all(r.note == "not_allowlisted" for r in egress)
    assert audit.verify().ok
