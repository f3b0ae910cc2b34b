"""Approvers answer `ask` decisions: allow once, for this session, always, or deny (+ message).

Headless runs use `DenyApprover` unless `--approve FILE` names a policy of auto-approvals
(`PolicyApprover`: an action that file allows is approved once, everything else denied).
"allow always" appends a reviewable rule to the user's policy file; it is offered only where
no explicit rule asked (an explicit ask rule is its owner's to change: a later allow cannot
loosen it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from policies import Action, Decision, PolicySet, allow_rule_yaml

Choice = Literal["once", "session", "always", "deny"]


class ApprovalRequest(BaseModel):
    session_id: str
    call_id: str
    tool: str
    action: dict[str, Any]
    decision: Decision
    always_rule: str | None
    always_file: str


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
        from policies import parse_action

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
    if decision.rule is not None or decision.segments and any(
        s.rule is not None and s.decision != "allow" for s in decision.segments
    ):
        return None
    return allow_rule_yaml(action)


def write_always_rule(user_policy: Path, rule_yaml: str, seed: Path) -> None:
    """Append the rule to the user policy file, creating it from `seed` the first time.

    Seeding keeps the user's protections: a new user layer must not mean fewer rules.
    """
    user_policy.parent.mkdir(parents=True, exist_ok=True)
    if not user_policy.exists():
        user_policy.write_text(seed.read_text())
    with user_policy.open("a") as handle:
        handle.write(f"\n# added by `allow always` in a Rempart session\n{rule_yaml}\n")
