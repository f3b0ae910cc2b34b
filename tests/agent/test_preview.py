"""An asked write carries what it will do: the full diff, computed from the tool's arguments
and the file as the sandbox has it, before anything runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.approval import ApprovalAnswer, ApprovalRequest
from agent.testing import Reply
from tests.agent.conftest import POLICY, Run

pytestmark = pytest.mark.docker


class Recording:
    def __init__(self) -> None:
        self.requests: list[ApprovalRequest] = []

    def ask(self, request: ApprovalRequest) -> ApprovalAnswer:
        self.requests.append(request)
        return ApprovalAnswer(choice="deny", message="not now", approver="test")


def test_an_asked_write_or_edit_shows_its_full_diff_before_it_runs(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    approver = Recording()
    asks = POLICY.replace(
        'write: {allow: ["**"]', 'write: {ask: ["calc.py", "new.py", ".env"], allow: ["**"]'
    )
    run_session(
        [
            Reply.call("edit_file", path="calc.py", old="a + b", new="a - b"),
            Reply.call("edit_file", path="calc.py", old="nowhere", new="x"),
            Reply.call("write_file", path="new.py", content="x = 1\n"),
            Reply.call("write_file", path=".env", content="API_TOKEN=mine\n"),
            Reply.call("finish", summary="asked"),
        ],
        approver=approver,
        policy_text=asks,
    )
    edit, failing, write, secret = (r.preview for r in approver.requests)
    assert edit == (
        "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n"
        "-    return a + b\n+    return a - b\n"
    )
    assert failing == "(edit_file will fail: the text to replace occurs 0 times in calc.py)"
    assert write == "--- a/new.py\n+++ b/new.py\n@@ -0,0 +1 @@\n+x = 1\n"
    # read through the sandbox: a read-denied file's content never reaches the prompt
    assert secret is not None and "super-secret-value" not in secret
    assert (workspace / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
