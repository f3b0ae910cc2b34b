"""Approvers answer `ask` decisions: allow once, for this session, always, or deny (+ message).

Headless runs use `DenyApprover` unless `--approve FILE` names a policy of auto-approvals
(`PolicyApprover`: an action that file allows is approved once, everything else denied).
"allow always" adds a reviewable rule to the approved layer (agent/approved.py); it is offered
only where no explicit rule asked (an explicit ask rule is its owner's to change: a later
allow cannot loosen it).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel

from agent.approved import is_default_only
from policies import Action, Decision, PolicySet, allow_rule_yaml, parse_action

Choice = Literal["once", "session", "always", "deny"]


class ApprovalRequest(BaseModel):
    session_id: str
    call_id: str
    tool: str
    action: dict[str, Any]
    decision: Decision
    always_rule: str | None
    always_file: str
    # what will happen, shown before the person decides: a write's full diff (agent.preview)
    preview: str | None = None


class ApprovalAnswer(BaseModel):
    choice: Choice
    message: str = ""
    approver: str = "user"


class Approver(Protocol):
    def ask(self, request: ApprovalRequest) -> ApprovalAnswer: ...


class DenyApprover:
    """Headless default: nobody is there to say yes."""

    def ask(self, request: ApprovalRequest) -> ApprovalAnswer:
        return ApprovalAnswer(
            choice="deny",
            message="this action needs approval and the session runs headless",
            approver="headless",
        )


class PolicyApprover:
    """Auto-approvals from a policy file: what it allows is approved once; the rest denied."""

    def __init__(self, approvals: PolicySet, source: str) -> None:
        self.approvals = approvals
        self.source = source

    def ask(self, request: ApprovalRequest) -> ApprovalAnswer:
        verdict = self.approvals.evaluate(parse_action(request.action))
        if verdict.decision == "allow":
            return ApprovalAnswer(choice="once", approver=f"auto:{self.source}")
        return ApprovalAnswer(
            choice="deny",
            message=f"not in the auto-approvals of {self.source}",
            approver=f"auto:{self.source}",
        )


def always_rule(decision: Decision, action: Action) -> str | None:
    """The rule "allow always" would write, or None where an explicit rule asked."""
    return allow_rule_yaml(action) if is_default_only(decision) else None
