"""The project's check run before the model's first turn (aids on): its failure opens the
conversation, and a run check's output is what a same-output task is held to. Real policy,
real sandbox, scripted model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.baseline import asks_same_output
from agent.events import CheckEvent
from agent.testing import Reply
from tests.agent.conftest import Run

pytestmark = pytest.mark.docker

FAILING_TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 6\n"
MAIN = "from calc import add\n\nprint('sum', add(2, 3))\n"


def _first_prompt(run: Run) -> str:
    messages = run.server.requests[0]["messages"]
    return str(messages[1]["content"])


def _checks(run: Run) -> list[CheckEvent]:
    return [e for e in run.events if isinstance(e, CheckEvent)]


def test_a_failing_test_check_opens_the_conversation_with_its_output(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    (workspace / "test_calc.py").write_text(FAILING_TEST)
    run = run_session(
        [Reply.call("finish", summary="nothing")],
        task="Fix calc.py so that `python3 -m pytest -q` passes.",
    )
    prompt = _first_prompt(run)
    assert "`python3 -m pytest -q` FAILS (exit 1)" in prompt
    assert "assert 5 == 6" in prompt  # the values the model needs
    first = _checks(run)[0]
    assert first.attempt == 0 and not first.passed and first.label() == "before any change"
    assert prompt.index("Your task:") < prompt.index("FAILS")


def test_a_run_check_of_a_program_not_yet_written_is_not_run_first(
    run_session: Callable[..., Run],
) -> None:
    run = run_session(
        [Reply.call("finish", summary="nothing")],
        task="Create hello.py and run it with `python3 hello.py`.",
    )
    assert all(e.attempt > 0 for e in _checks(run))
    assert "Before any change" not in _first_prompt(run)


def test_a_changed_output_fails_a_same_output_task(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    (workspace / "main.py").write_text(MAIN)
    run = run_session(
        [
            Reply.call("edit_file", path="main.py", old="'sum'", new="'total'"),
            Reply.call("finish", summary="renamed, same output"),
            Reply.call("finish", summary="renamed, same output"),
            Reply.call("finish", summary="renamed, same output"),
        ],
        task="Tidy main.py; `python3 main.py` must print the same output as before.",
    )
    prompt = _first_prompt(run)
    assert "printed:\nsum 5" in prompt and "must print exactly this" in prompt
    assert run.finish.verified == "failed" and run.finish.outcome == "check_failed"
    assert run.finish.check is not None and run.finish.check.output_differs
    refusal = run.server.requests[2]["messages"][-1]["content"]
    assert "now prints:\ntotal 5" in refusal and "Before the change it printed:\nsum 5" in refusal
    assert (workspace / "main.py").read_text() == MAIN.replace("'sum'", "'total'")


def test_the_same_output_is_not_called_a_passed_test(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    (workspace / "main.py").write_text(MAIN)
    run = run_session(
        [
            Reply.call("edit_file", path="main.py", old="add(2, 3)", new="add(3, 2)"),
            Reply.call("finish", summary="tidied"),
        ],
        task="Tidy main.py; `python3 main.py` must print exactly what it printed before.",
    )
    assert run.finish.outcome == "success" and run.finish.verified == "none"
    assert run.finish.check is not None and not run.finish.check.output_differs


def test_with_the_aids_off_nothing_runs_first(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    (workspace / "test_calc.py").write_text(FAILING_TEST)
    run = run_session(
        [Reply.call("finish", summary="nothing")],
        task="Fix calc.py so that `python3 -m pytest -q` passes.",
        overrides={"aids": False},
    )
    assert all(e.attempt > 0 for e in _checks(run))
    assert "FAILS" not in _first_prompt(run)


@pytest.mark.parametrize(
    ("task", "asked"),
    [
        ("`python3 main.py` must print the same output as before", True),
        ("python3 run_reports.py must print exactly what it printed before", True),
        ("the output must stay the same", True),
        ("print the sum of the values", False),
        ("make the output faster", False),
    ],
)
def test_which_tasks_ask_for_the_same_output(task: str, asked: bool) -> None:
    assert asks_same_output(task) is asked


def test_a_run_check_that_printed_nothing_is_questioned_once_when_output_is_expected(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    """Seen in the bench (create_wordfreq): the script read stdin, printed nothing, and the
    session ended 'done'. The model is asked once; sent again, the finish stands."""
    stdin_reader = "import sys\nprint(sys.stdin.read().upper(), end='')\n"
    run = run_session(
        [
            Reply.call("write_file", path="shout.py", content=stdin_reader),
            Reply.call("finish", summary="done"),
            Reply.call("finish", summary="done"),
        ],
        task="Create shout.py that prints the file given as its argument in capitals; "
        "run it with `python3 shout.py calc.py`.",
    )
    asked = run.server.requests[2]["messages"][-1]["content"]
    assert "printed nothing" in asked and "sys.argv" in asked
    assert run.finish.outcome == "success" and run.finish.verified == "none"
    assert len(run.server.requests) == 3
