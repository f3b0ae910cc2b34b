"""The check-guided search (agent.search): whole-file answers chosen by the project's tests,
each written and checked through the real policy in a real sandbox, on a scripted model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.audit import AuditLog
from agent.events import CheckEvent, CheckRecord, NoticeEvent, ToolCallEvent
from agent.loop import LoopLimits
from agent.search import code_of, is_test, score, targets
from agent.testing import Reply
from tests.agent.conftest import POLICY, Run

TEST = (
    "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
    "def test_zero():\n    assert add(0, 0) == 0\n"
)
SUB = "\n\ndef sub(a, b):\n    return a - b\n"
WRONG = "def add(a, b):\n    return a - b\n" + SUB
RIGHT = "def add(a, b):\n    return a + b\n" + SUB
CLAIM = Reply.call("finish", summary="fixed, the tests pass")


def _answer(code: str) -> Reply:
    return Reply(text=f"Here is the corrected file:\n```python\n{code}```\n")


def _refused_three_times() -> list[Reply]:
    """The model's own tries: one change that does not fix it, then three finishes."""
    return [
        Reply.call("write_file", path="notes.txt", content="looked at calc.py\n"),
        CLAIM,
        CLAIM.model_copy(),
        CLAIM.model_copy(),
    ]


@pytest.fixture
def failing(workspace: Path) -> Path:
    (workspace / "test_calc.py").write_text(TEST)
    (workspace / "calc.py").write_text(WRONG)
    return workspace


def _notices(run: Run) -> list[str]:
    return [e.text for e in run.events if isinstance(e, NoticeEvent)]


@pytest.mark.docker
def test_an_answer_that_passes_the_tests_ends_the_session_verified(
    run_session: Callable[..., Run], failing: Path
) -> None:
    answers = [
        Reply(text="I think the bug is in add."),  # no code: skipped
        _answer("def add(a, b)\n    return a + b\n"),  # does not parse: never written
        _answer("def add(a, b):\n    return a + b\n"),  # passes, but drops sub: never written
        _answer("def add(a, b):\n    return a * b\n" + SUB),  # written, fails, the next tried
        _answer(RIGHT),
    ]
    run = run_session(_refused_three_times() + answers, task="fix add in calc.py")
    assert run.finish.outcome == "success" and run.finish.verified == "passed"
    assert (failing / "calc.py").read_text() == RIGHT
    assert (failing / "test_calc.py").read_text() == TEST
    assert run.finish.claim == "fixed, the tests pass"
    assert "the check passed on an answer of the check-guided search" in run.finish.summary
    sampled = run.server.requests[-1]
    assert sampled.get("n") == 5 and not sampled.get("stream")
    assert "def add(a, b):\n    return a - b" in sampled["messages"][-1]["content"]
    assert "assert -1 == 5" in sampled["messages"][-1]["content"]  # the failure shown
    writes = [
        e for e in run.events if isinstance(e, ToolCallEvent) and e.call_id.startswith("search")
    ]
    assert [e.tool for e in writes] == ["read_file", "write_file", "write_file"]
    checks = [e for e in run.events if isinstance(e, CheckEvent)]
    assert [c.passed for c in checks[-2:]] == [False, True]
    assert any("round 1, answer 2: the check passed" in n for n in _notices(run))
    audited = [
        r for r in AuditLog.for_settings(run.settings).records() if r.call_id == writes[-1].call_id
    ]
    assert audited, "the search's write is in the audit log"


@pytest.mark.docker
def test_with_no_answer_passing_the_file_is_written_back_and_checked_again(
    run_session: Callable[..., Run], failing: Path
) -> None:
    (failing / "calc.py").write_text(WRONG.rstrip("\n"))  # no last line break, as models write
    worse = [_answer(f"def add(a, b):\n    return a * b + {n}\n{SUB}") for n in range(5)]
    run = run_session(
        _refused_three_times() + worse + [Reply(text="no idea")] * 10,
        task="fix add in calc.py",
        overrides={"model_timeout_s": 30.0},
    )
    assert run.finish.outcome == "check_failed" and run.finish.verified == "failed"
    assert (failing / "calc.py").read_text() == WRONG.rstrip("\n")  # as the session left it
    assert run.finish.files_changed and [c.path for c in run.finish.files_changed] == ["notes.txt"]
    last = [e for e in run.events if isinstance(e, CheckEvent)][-1]
    assert last.check.exit_code not in (0, None)
    assert run.finish.check is not None and run.finish.check.output_tail == last.check.output_tail
    notices = [n for n in _notices(run) if "none passed the check" in n]
    assert notices[0] == "search: round 1: 5 answers, 5 tried, none passed the check"
    assert (
        notices[1]
        == "search: round 2: 5 answers, 0 tried (left: 5 no code block), none passed the check"
    )


@pytest.mark.docker
def test_the_search_writes_nothing_the_policy_denies(
    run_session: Callable[..., Run], failing: Path
) -> None:
    policy = POLICY.replace('deny: [".git/**"]', 'deny: [".git/**", "calc.py"]')
    run = run_session(
        _refused_three_times() + [_answer(RIGHT)] * 5,
        task="fix add in calc.py",
        policy_text=policy,
    )
    assert (failing / "calc.py").read_text() == WRONG
    assert run.finish.outcome == "check_failed"
    assert any("the write to calc.py was not made" in n for n in _notices(run))
    denied = [d for d in run.decisions() if d.decision == "deny" and d.call_id.startswith("search")]
    assert denied


@pytest.mark.docker
def test_with_aids_off_there_is_no_search(run_session: Callable[..., Run], failing: Path) -> None:
    run = run_session(
        [CLAIM] + [_answer(RIGHT)] * 5, task="fix add in calc.py", overrides={"aids": False}
    )
    assert (failing / "calc.py").read_text() == WRONG
    assert run.finish.outcome == "check_failed"
    assert not any(r.get("n") for r in run.server.requests)


def test_the_files_it_may_rewrite_are_code_never_tests() -> None:
    output = 'File "/workspace/pkg/util.py", line 3, in f\ntests/test_x.py:9: AssertionError'
    found = targets(
        "fix `stats.py` so `tests/test_stats.py` passes", ["notes.py", "stats.py"], output
    )
    assert found == ["stats.py", "notes.py", "pkg/util.py"]
    assert all(is_test(p) for p in ["tests/a.py", "test_a.py", "a_test.py", "conftest.py"])
    assert not any(is_test(p) for p in ["stats.py", "latest.py", "contest.py"])


def test_answers_are_scored_by_the_check_and_read_from_their_longest_block() -> None:
    def record(exit_code: int, tail: str) -> CheckRecord:
        return CheckRecord(
            command="pytest", source="detected", exit_code=exit_code, output_tail=tail, kind="test"
        )

    assert score(record(1, "1 failed, 4 passed in 0.5s")) > score(record(1, "2 failed, 3 passed"))
    assert score(record(1, "1 error in 0.1s")) < score(record(1, "1 failed in 0.1s"))
    assert score(record(0, "5 passed")) > score(record(1, "9 passed, 1 failed"))
    assert code_of("a\n```python\nx = 1\n```\nand\n```\ny = 2\nz = 3\n```") == "y = 2\nz = 3\n"
    assert code_of("no code here") is None


@pytest.mark.docker
def test_a_step_limit_with_the_tests_failing_gets_the_search_too(
    run_session: Callable[..., Run], failing: Path
) -> None:
    run = run_session(
        [Reply.call("write_file", path="notes.txt", content=f"try {n}\n") for n in range(2)]
        + [_answer(RIGHT)] * 5,
        task="fix add in calc.py",
        limits=LoopLimits(max_steps=2),
    )
    assert run.finish.status == "finished" and run.finish.outcome == "success"
    assert run.finish.verified == "passed" and run.finish.claim is None
    assert "step limit (2) reached; the check passed on an answer of the check-guided search" in (
        run.finish.summary
    )
    assert (failing / "calc.py").read_text() == RIGHT


@pytest.mark.docker
def test_a_file_it_could_not_write_back_exactly_is_not_rewritten(
    run_session: Callable[..., Run], failing: Path
) -> None:
    (failing / "calc.py").write_bytes(WRONG.replace("\n", "\r\n").encode())
    run = run_session(_refused_three_times() + [_answer(RIGHT)] * 5, task="fix add in calc.py")
    assert (failing / "calc.py").read_bytes() == WRONG.replace("\n", "\r\n").encode()
    assert run.finish.outcome == "check_failed"
    assert any("search: no code file to rewrite whole" in n for n in _notices(run))


def test_test_files_are_known_by_place_name_or_content() -> None:
    assert is_test("spec/calc.py") and is_test("tests.py") and is_test("calc_tests.py")
    assert is_test("check.py", "import pytest\n") and is_test("x.py", "def test_add():\n    pass\n")
    assert not is_test("calc.py", "def add(a, b):\n    return a + b\n")
    assert targets("fix it", [".venv/lib/site-packages/x.py", "../up.py", "ok.py"], "") == ["ok.py"]
    assert targets("fix it", [], 'File "/usr/lib/python3.11/importlib/__init__.py", line 9') == []


@pytest.mark.docker
def test_the_end_of_the_time_limit_is_kept_for_the_search_once_the_tests_failed(
    run_session: Callable[..., Run], failing: Path
) -> None:
    run = run_session(
        [
            Reply.call("write_file", path="notes.txt", content="looked\n"),
            CLAIM,  # refused: the tests fail; with under 180 s left the model gets no more turns
            *[_answer(RIGHT)] * 5,
            Reply.call("write_file", path="never.txt", content="x\n"),
        ],
        task="fix add in calc.py",
        limits=LoopLimits(max_steps=15, max_wall_s=170),
    )
    assert run.finish.outcome == "success" and run.finish.verified == "passed"
    assert "kept for the check-guided search" in run.finish.summary
    assert not (failing / "never.txt").exists()
    assert (failing / "calc.py").read_text() == RIGHT
