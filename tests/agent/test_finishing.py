"""What `verified` and the summary say for each kind of check: a program that merely ran
is never reported as a passed test."""

from __future__ import annotations

import pytest

from agent.events import CheckRecord
from agent.evidence import Evidence
from agent.finishing import Finisher
from agent.messages import ToolCallRequest
from agent.projectcheck import CheckKind, ProjectCheck

CALL = ToolCallRequest(id="c1", name="finish", arguments="{}")


def finished(kind: CheckKind, exit_code: int) -> Finisher:
    check = ProjectCheck(command="python3 app.py data.txt", source="the task", kind=kind)

    def run_check(call: ToolCallRequest, found: ProjectCheck, attempt: int) -> CheckRecord:
        return CheckRecord(
            command=found.command, source=found.source, exit_code=exit_code, kind=found.kind
        )

    finisher = Finisher("print the data", check, run_check, Evidence())
    finisher.review(CALL, None)  # runs the check
    return finisher


@pytest.mark.parametrize(
    ("kind", "exit_code", "verified", "outcome", "first_line"),
    [
        ("test", 0, "passed", "success", "done"),
        ("test", 1, "failed", "check_failed", "NOT done: the check failed"),
        ("run", 0, "none", "success", "done, NOT verified: no test checked the result"),
        ("run", 1, "failed", "check_failed", "NOT done: the check failed"),
    ],
)
def test_a_run_that_exits_zero_is_not_verified_and_says_so(
    kind: CheckKind, exit_code: int, verified: str, outcome: str, first_line: str
) -> None:
    event = finished(kind, exit_code).final("finished", "", "it works")
    assert event.verified == verified and event.outcome == outcome
    assert event.summary.splitlines()[0] == first_line
    if kind == "run" and exit_code == 0:
        assert "ran without error (runs the program, does not test its result)" in event.summary
