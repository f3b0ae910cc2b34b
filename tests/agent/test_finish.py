"""Verified finish, honest summaries and the small-model aids, through the real policy and a
real sandbox on a scripted model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.audit import AuditLog
from agent.events import CheckEvent, NoticeEvent, ToolCallEvent
from agent.finishing import UNRUN_QUESTION
from agent.loop import LoopLimits
from agent.testing import Reply, ScriptedCall
from policies import Exec, PolicySet
from tests.agent.conftest import Run

pytestmark = pytest.mark.docker

GUTTERED = "    1| def mul(a, b):\n    2|     return a * b\n"
BROKEN_TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def test_a_pasted_gutter_is_stripped_counted_and_audited(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    run = run_session(
        [
            Reply.call("write_file", path="mul.py", content=GUTTERED),
            Reply.call("finish", summary="wrote mul.py"),
        ],
        task="create mul.py",
    )
    assert (workspace / "mul.py").read_text() == "def mul(a, b):\n    return a * b\n"
    result = run.results()[0]
    assert result.repairs == ["removed a pasted line-number gutter"]
    assert run.finish.repairs >= 1
    notes = [r.note or "" for r in AuditLog.for_settings(run.settings).records()]
    assert any("removed a pasted line-number gutter" in n for n in notes)


def test_an_inexact_edit_is_applied_once_or_answered_with_the_closest_lines(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    run = run_session(
        [
            Reply.call("edit_file", path="calc.py", old="return a+b", new="return a - b"),
            Reply.call("edit_file", path="calc.py", old="return a + b", new="return a - b"),
            Reply.call(
                "edit_file",
                path="calc.py",
                old="def add(a, b):\nreturn a - b",
                new="def add(a, b):\nreturn b - a",
            ),
            Reply.call("finish", summary="edited"),
        ],
        task="change calc.py",
    )
    first, second, third = run.results()[:3]
    assert first.is_error and "closest match, lines 1-2" in first.content
    assert not second.is_error and not third.is_error
    assert third.repairs and "whitespace" in third.repairs[0]
    assert (workspace / "calc.py").read_text() == "def add(a, b):\n    return b - a\n"


def test_broken_json_arguments_to_finish_go_back_to_the_model(
    run_session: Callable[..., Run],
) -> None:
    run = run_session(
        [
            Reply.raw_call("finish", '{"summary": "done'),
            Reply.call("finish", summary="done"),
        ]
    )
    assert run.finish.status == "finished"
    first = run.results()[0]
    assert first.is_error and "not valid JSON" in first.content
    assert run.finish.failures >= 1


def test_a_failing_check_refuses_finish_until_the_code_is_fixed(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    (workspace / "test_calc.py").write_text(BROKEN_TEST)
    (workspace / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    run = run_session(
        [
            Reply.call("edit_file", path="calc.py", old="a - b", new="b - a"),
            Reply.call("finish", summary="fixed, tests pass"),
            Reply.call("edit_file", path="calc.py", old="b - a", new="a + b"),
            Reply.call("finish", summary="fixed add"),
        ],
        task="fix add in calc.py",
    )
    checks = [e for e in run.events if isinstance(e, CheckEvent)]
    assert [(c.attempt, c.passed) for c in checks] == [(0, False), (1, False), (2, True)]
    refusal = run.server.requests[2]["messages"][-1]["content"]
    assert "finish refused" in refusal and "assert 1 == 5" in refusal
    assert "where to look: test_calc.py line 5 (assert 1 == 5)" in refusal
    assert run.finish.outcome == "success" and run.finish.verified == "passed"
    assert run.finish.check is not None and run.finish.check.exit_code == 0
    assert [c.path for c in run.finish.files_changed] == ["calc.py"]
    assert "-    return a - b\n+    return a + b" in run.finish.diff
    assert run.finish.claim == "fixed add" and "check:" in run.finish.summary


def test_a_check_that_keeps_failing_ends_as_check_failed_never_as_success(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    (workspace / "test_calc.py").write_text(BROKEN_TEST)
    (workspace / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    claim = Reply.call("finish", summary="all tests pass")
    run = run_session(
        [
            Reply.call("write_file", path="notes.txt", content="x\n"),
            claim,
            claim.model_copy(),
            claim.model_copy(),
        ],
        task="fix add in calc.py",
    )
    assert run.finish.status == "finished"
    assert run.finish.verified == "failed" and run.finish.outcome == "check_failed"
    assert run.finish.claim == "all tests pass"
    assert "NOT done: the check failed" in run.finish.summary
    checks = [e.attempt for e in run.events if isinstance(e, CheckEvent)]
    assert checks == [0, 1, 2, 3]  # the run before any change, then one per finish


def test_a_finish_with_no_change_on_a_change_task_is_questioned_once(
    run_session: Callable[..., Run],
) -> None:
    run = run_session(
        [
            Reply.call("finish", summary="Renamed get_usr to get_user everywhere"),
            Reply.call("finish", summary="nothing needed renaming"),
        ],
        task="Rename get_usr to get_user everywhere",
    )
    asked = run.server.requests[1]["messages"][-1]["content"]
    assert "no file in the workspace has changed" in asked
    assert run.finish.files_changed == [] and "files changed: none" in run.finish.summary
    assert run.finish.verified == "none"


def test_the_same_call_repeated_is_steered_then_ended(run_session: Callable[..., Run]) -> None:
    same = Reply.call("list_files", path=".")
    run = run_session([same.model_copy() for _ in range(8)], limits=LoopLimits(max_steps=20))
    notes = [e.text for e in run.events if isinstance(e, NoticeEvent)]
    assert any("repeated the same list_files call 3 times" in n for n in notes)
    third = run.server.requests[3]["messages"][-1]["content"]
    assert "Do something else" in third
    assert run.finish.status == "failed" and "6 times in its last" in run.finish.summary


def test_the_turn_after_a_repeated_call_is_sampled_hotter_and_only_that_one(
    run_session: Callable[..., Run],
) -> None:
    same = Reply.call("read_file", path="calc.py")
    run = run_session(
        [
            same,
            same.model_copy(),
            Reply.call("list_files", path="."),
            Reply.call("finish", summary="ok"),
        ],
        task="look at calc.py",
    )
    temperatures = [r.get("temperature") for r in run.server.requests]
    assert temperatures == [0.2, 0.2, 0.8, 0.2]
    off = run_session(
        [same, same.model_copy(), Reply.call("finish", summary="ok")],
        task="look at calc.py",
        overrides={"aids": False},
    )
    assert [r.get("temperature") for r in off.server.requests] == [0.2, 0.2, 0.2]


def test_the_first_message_maps_the_project_without_read_denied_files(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    (workspace / "AGENTS.md").write_text("## Tests\nRun `python3 -m pytest -q`.\n")
    (workspace / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    run = run_session([Reply.call("finish", summary="looked")], task="look around")
    first = run.server.requests[0]["messages"][1]["content"]
    assert "calc.py" in first and "AGENTS.md" in first and "python3 -m pytest -q" in first
    assert ".env" not in first and "key.pem" not in first
    # the task, then the check's run before any change (no tests here: pytest's exit 5)
    assert "Your task:\nlook around\n\nBefore any change, the project's check" in first


def test_with_aids_off_the_check_is_reported_but_never_refuses_finish(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    (workspace / "test_calc.py").write_text(BROKEN_TEST)
    (workspace / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    run = run_session(
        [
            Reply.call("write_file", path="mul.py", content=GUTTERED),
            Reply.call("finish", summary="done"),
        ],
        task="fix add",
        overrides={"aids": False},
    )
    assert (workspace / "mul.py").read_text() == GUTTERED
    assert run.finish.outcome == "check_failed" and run.finish.claim == "done"
    assert run.server.requests[0]["messages"][1]["content"] == "fix add"


def test_the_final_event_is_json_with_the_evidence(run_session: Callable[..., Run]) -> None:
    run = run_session(
        [Reply.call("run", command="python3 -c 'print(1)'"), Reply.call("finish", summary="ok")]
    )
    data = json.loads(run.finish.model_dump_json())
    assert {"verified", "check", "files_changed", "commands", "denials", "claim"} <= set(data)


def test_a_cycle_of_two_calls_is_a_loop_too(run_session: Callable[..., Run]) -> None:
    read = Reply.call("read_file", path="calc.py")
    edit = Reply.call("edit_file", path="calc.py", old="no such text here", new="x")
    run = run_session([r.model_copy() for _ in range(6) for r in (read, edit)])
    notes = [e.text for e in run.events if isinstance(e, NoticeEvent)]
    assert any("repeated the same read_file call 3 times" in n for n in notes)
    assert run.finish.status == "failed" and "times in its last" in run.finish.summary


def test_a_known_check_that_never_ran_is_named_in_the_final_event(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    (workspace / "test_calc.py").write_text(BROKEN_TEST)
    run = run_session([Reply(text="I cannot")] * 4, task="fix add")
    assert run.finish.check is not None and run.finish.check.exit_code is None
    assert "no file changed" in run.finish.check.note and run.finish.verified == "none"


def test_a_prompt_the_server_finds_too_long_is_cut_and_asked_again(
    run_session: Callable[..., Run],
) -> None:
    too_long = Reply(
        status=400,
        error_message="This model's maximum context length is 8192 tokens. However, your "
        "prompt contains at least 8193 input tokens",
    )
    run = run_session([too_long, Reply.call("finish", summary="ok")])
    assert run.finish.status == "finished" and run.finish.outcome == "success"
    assert any(isinstance(e, NoticeEvent) and "window" in e.text for e in run.events)


def test_a_prompt_still_too_long_after_cutting_ends_as_an_error_not_an_unreachable_server(
    run_session: Callable[..., Run],
) -> None:
    too_long = Reply(
        status=400,
        error_message="This model's maximum context length is 8192 tokens. However, your "
        "prompt contains at least 8193 input tokens",
    )
    run = run_session([too_long, too_long, too_long])
    assert run.finish.outcome == "error"
    assert "longer than the model's window" in run.finish.summary
    assert "did not answer" not in run.finish.summary


def test_a_rename_left_half_done_is_questioned_once_naming_the_file_left(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    (workspace / "users.py").write_text("def get_usr(uid):\n    return uid\n")
    (workspace / "report.py").write_text("from users import get_usr\n\nprint(get_usr(1))\n")
    run = run_session(
        [
            Reply.call("edit_file", path="users.py", old="def get_usr", new="def get_user"),
            Reply.call("finish", summary="Renamed get_usr to get_user everywhere"),
            Reply.call("finish", summary="done"),
            Reply.call("finish", summary="done"),
        ],
        task="Rename the function `get_usr` to `get_user` in every file.",
    )
    asked = run.server.requests[2]["messages"][-1]["content"]
    assert "`get_usr` (the old name) still appears in: report.py" in asked
    assert "users.py" not in asked.split("still appears in:")[1]
    assert [c.path for c in run.finish.files_changed] == ["users.py"]
    # questioned once for the names, once for running nothing since; the third stands
    assert len(run.server.requests) == 4
    assert "ran nothing since" in run.server.requests[3]["messages"][-1]["content"]
    left = "`get_usr` (the old name) still appears in: report.py."
    assert run.finish.unmet == [left]  # evidence at the end, whatever the model said
    assert f"named by the task, NOT found: {left}" in run.finish.summary
    # no test passed to outweigh it: not a success (exit 5), whatever the model claimed
    assert run.finish.outcome == "check_failed"
    assert run.finish.summary.startswith("NOT done: what the task names is missing")


def test_a_passing_test_outweighs_a_name_the_task_put_in_backticks(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    """The task-terms look is a heuristic: a project test that passes decides success."""
    (workspace / "test_calc.py").write_text(BROKEN_TEST.replace("== 5", "== 5  # fine"))
    (workspace / "calc.py").write_text("def add(a, b):\n    return a + b + 0\n")
    run = run_session(
        [
            Reply.call("edit_file", path="calc.py", old="a + b + 0", new="a + b"),
            Reply.call("finish", summary="simplified add"),
            Reply.call("finish", summary="simplified add"),
        ],
        task="Simplify `add` in calc.py; keep `ADD_LIMIT` as it is.",
    )
    assert run.finish.verified == "passed"
    assert run.finish.unmet  # `ADD_LIMIT` is in no file: still listed as evidence
    assert run.finish.outcome == "success"


def test_a_whole_file_write_that_drops_a_function_is_refused_once_then_applied(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    """spec_roman: the model rewrote roman.py with one of its two functions and finished."""
    only_mul = "def mul(a, b):\n    return a * b\n"
    run = run_session(
        [
            Reply.call("write_file", path="calc.py", content=only_mul),
            Reply.call("read_file", path="calc.py"),
            Reply.call("write_file", path="calc.py", content=only_mul),
            Reply.call("finish", summary="calc.py has mul"),
        ],
        task="add mul to calc.py",
    )
    refused, shown, applied = run.results()[:3]
    assert refused.is_error and "would no longer define add" in refused.content
    assert "def add(a, b):" in shown.content  # the first write never reached the file
    assert not applied.is_error and "no longer defines add" in applied.content
    assert (workspace / "calc.py").read_text() == only_mul


def test_a_write_over_a_file_never_read_is_refused_once_then_applied(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    """create_wordfreq: the model overwrote the task's input data/notes.txt with a sample."""
    (workspace / "notes.txt").write_text("the real input\n")
    run = run_session(
        [
            Reply.call("write_file", path="notes.txt", content="a sample\n"),
            Reply.call("write_file", path="notes.txt", content="a sample\n"),
            Reply.call("write_file", path="new.txt", content="fresh\n"),
            Reply.call("write_file", path="new.txt", content="fresh again\n"),
            Reply.call("read_file", path="calc.py"),
            Reply.call("write_file", path="calc.py", content="def add(a, b):\n    return b + a\n"),
            Reply.call("finish", summary="wrote"),
        ],
        task="write the notes",
    )
    refused, applied, new, rewritten, _, known = run.results()[:6]
    assert refused.is_error and "you have not read it in this session" in refused.content
    assert not applied.is_error and (workspace / "notes.txt").read_text() == "a sample\n"
    assert not new.is_error and not rewritten.is_error  # its own file: the model knows it
    assert not known.is_error and "b + a" in (workspace / "calc.py").read_text()


def test_with_no_check_known_a_finish_after_changes_nothing_ran_is_questioned_once(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    """spec_roman: roman.py changed (to code that could not even import), nothing run, and
    the session ended 'done'."""
    run = run_session(
        [
            Reply.call("write_file", path="mul.py", content="def mul(a, b):\n    return a * b\n"),
            Reply.call("finish", summary="mul works"),
            Reply.call("run", command="python3 -c 'from mul import mul; print(mul(2, 3))'"),
            Reply.call("write_file", path="notes.txt", content="x\n"),
            Reply.call("run", command="python3 mul.py"),
            Reply.call("finish", summary="mul works"),
        ],
        task="Create mul.py with mul(a, b).",
    )
    asked = run.server.requests[2]["messages"][-1]["content"]
    assert "you changed mul.py but ran nothing since" in asked
    assert run.finish.status == "finished" and len(run.server.requests) == 6


def test_a_finish_without_the_file_the_task_asks_to_save_is_questioned_once(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    """create_sales_report and create_wordfreq: the script was written and run, the output
    file the task asks for never made, and the session ended "done"."""
    (workspace / "sales.csv").write_text("region,amount\nnorth,2.50\n")
    script = "import sys\nprint(open(sys.argv[1]).read().splitlines()[1])\n"
    run = run_session(
        [
            Reply.call("write_file", path="summarize.py", content=script),
            Reply.call("run", command="python3 summarize.py sales.csv"),
            Reply.call("finish", summary="summary.txt has the totals"),
            Reply.call("run", command="python3 summarize.py sales.csv > summary.txt"),
            Reply.call("finish", summary="saved"),
        ],
        task="Create `summarize.py` that sums `sales.csv` by region. Run it and save "
        "its output\nto `summary.txt`.",
    )
    asked = run.server.requests[3]["messages"][-1]["content"]
    assert "`summary.txt` does not exist (the task asks for this file)" in asked
    assert "> FILE" in asked
    assert (workspace / "summary.txt").read_text() == "north,2.50\n"
    assert run.finish.unmet == [] and run.finish.outcome == "success"


def test_a_session_that_never_saves_the_asked_for_file_names_it_as_evidence_only(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    run = run_session(
        [
            Reply.call("write_file", path="report.py", content="print('total 3')\n"),
            Reply.call("run", command="python3 report.py"),
            Reply.call("finish", summary="saved to report.txt"),
            Reply.call("finish", summary="saved to report.txt"),
        ],
        task="Write `report.py` and save what it prints to `report.txt`.",
    )
    missing = "`report.txt` does not exist (the task asks for this file)."
    assert run.finish.unmet == [missing]
    assert f"named by the task, NOT found: {missing}" in run.finish.summary
    # evidence, not a verdict: a program may be meant to make the file when it runs
    assert run.finish.outcome == "success" and run.finish.verified == "none"
    assert run.finish.summary.startswith("done, NOT verified")


def test_a_finish_that_leaves_code_the_session_broke_is_questioned_once_naming_the_lines(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    """spec_roman: finished "done" with roman.py calling two functions it never defined."""
    (workspace / "legacy.py").write_text("def old():\n    return gone\n")  # broken before
    code = "def to_roman(n):\n    return roman_table(n)\n"
    run = run_session(
        [
            Reply.call("write_file", path="roman.py", content=code),
            Reply.call("edit_file", path="legacy.py", old="def old():", new="def older():"),
            Reply.call("run", command="python3 roman.py"),
            Reply.call("finish", summary="to_roman works"),
            Reply.call("edit_file", path="roman.py", old="roman_table(n)", new="'I' * n"),
            Reply.call("run", command="python3 roman.py"),
            Reply.call("finish", summary="to_roman works"),
        ],
        task="Implement `to_roman(n)` in roman.py.",
    )
    asked = run.server.requests[4]["messages"][-1]["content"]
    assert asked.startswith("finish questioned: your changes left code that fails")
    assert "roman.py:2: undefined name 'roman_table'" in asked
    assert "legacy.py" not in asked  # broken before the session: not the session's doing
    assert len(run.server.requests) == 7 and run.finish.outcome == "success"


def test_the_advice_to_try_changed_code_is_a_command_the_default_policy_allows() -> None:
    """spec_roman: the question said `python3 -c ...`, which the default policy refuses as
    code given on the command line; the model tried it, was denied, and gave up."""
    policy = PolicySet.load([("org", Path(__file__).parents[2] / "policies/examples/default.yaml")])
    commands = [part for part in UNRUN_QUESTION.split("`") if part.startswith("python3 ")]
    assert commands == ["python3 try_it.py"]
    assert policy.evaluate(Exec(command=commands[0])).decision == "allow"
    assert policy.evaluate(Exec(command="python3 -c 'print(1)'")).decision == "deny"


def test_a_call_that_failed_sent_again_unchanged_is_dropped_and_asked_again_hotter(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    """config_cli_limit sent an edit whose `old` was not in the file five times; fix_median
    sent a no-op edit three times. With nothing changed since it failed, the copy is not
    run (nor kept in the history) and the turn is asked again at the unstick temperature."""
    missing = Reply.call("edit_file", path="calc.py", old="parser.add_argument()", new="x")
    run = run_session(
        [
            missing,
            Reply.call("read_file", path="calc.py"),
            missing.model_copy(),  # dropped
            missing.model_copy(),  # dropped again: the last try stands
            missing.model_copy(),
            Reply.call("edit_file", path="calc.py", old="a + b", new="b + a"),
            missing.model_copy(),  # after a change it may do something else: it runs
            Reply.call("finish", summary="ok"),
            Reply.call("finish", summary="ok"),
        ],
        task="look at calc.py",
    )
    temperatures = [r.get("temperature") for r in run.server.requests]
    assert temperatures[:5] == [0.2, 0.2, 0.2, 0.8, 0.8]  # one turn, asked three times
    notes = [e.text for e in run.events if isinstance(e, NoticeEvent)]
    assert sum("the same edit_file call again with nothing changed" in n for n in notes) == 2
    edits = [e for e in run.events if isinstance(e, ToolCallEvent) and e.tool == "edit_file"]
    assert len(edits) == 4  # the two dropped copies never ran
    history = run.server.requests[-1]["messages"]
    sent = [c for m in history for c in m.get("tool_calls") or []]
    assert sum("parser.add_argument" in c["function"]["arguments"] for c in sent) == 3


def test_a_write_held_once_is_applied_when_sent_again_not_dropped(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    write = Reply.call("write_file", path="calc.py", content="def add(a, b):\n    return 3\n")
    run = run_session([write, write.model_copy(), Reply.call("finish", summary="ok")])
    assert (workspace / "calc.py").read_text() == "def add(a, b):\n    return 3\n"
    assert not any("failed before" in e.text for e in run.events if isinstance(e, NoticeEvent))


def test_a_reply_that_repeats_itself_is_cut_off_and_the_model_told_why(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    """convert_litgpt_to_hf: a write_file call ran into `\\n` repeated until the 1,024-token
    limit, 219 s on this CPU, and came back as broken JSON with no word on why."""
    runaway = '{"path": "big.py", "content": "import json' + "\\n" * 1500
    cut = Reply.call("finish", summary="x").model_copy(
        update={"calls": [ScriptedCall(name="write_file", arguments=runaway)], "pieces": 60}
    )
    long = Reply.raw_call("write_file", '{"path": "big.py", "content": "import js').model_copy(
        update={"finish_reason": "length"}
    )
    run = run_session([cut, long, Reply.call("finish", summary="gave up")])
    notes = [e.text for e in run.events if isinstance(e, NoticeEvent)]
    assert "cut off the model's reply: it kept repeating itself" in notes
    first = run.server.requests[1]["messages"][-1]["content"]
    assert "not valid JSON" in first and "kept repeating the same few characters" in first
    second = run.server.requests[2]["messages"][-1]["content"]
    assert "cut off at the reply limit (1024 tokens)" in second
    assert "write_file a first part" in second
    assert not (workspace / "big.py").exists()


def test_the_change_just_made_sent_again_is_not_made_twice(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    """config_cli_limit: `old: LIMIT = N, new: import sys + LIMIT = N` applied fourteen
    times in a row, each one adding another `import sys`, until the step limit."""
    insert = Reply.call(
        "edit_file", path="calc.py", old="def add(a, b):", new="import sys\ndef add(a, b):"
    )
    run = run_session(
        [
            insert,
            insert.model_copy(),  # dropped
            insert.model_copy(),  # dropped
            Reply.call("run", command="python3 calc.py"),
            insert.model_copy(),  # after a command it may mean something else: it runs
            Reply.call("finish", summary="ok"),
        ],
        task="look at calc.py",
    )
    assert (workspace / "calc.py").read_text().count("import sys") == 2
    notes = [e.text for e in run.events if isinstance(e, NoticeEvent)]
    assert sum("the same edit_file call again with nothing changed" in n for n in notes) == 2


def test_a_change_with_arguments_that_do_not_fit_is_spent_too(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    """create_wordfreq: an edit_file without `new` sent four times, each answered "bad
    arguments", until the model gave up."""
    no_new = Reply.call("edit_file", path="calc.py", old="a + b")
    run = run_session(
        [no_new, no_new.model_copy(), no_new.model_copy(), Reply.call("finish", summary="x")],
        task="look at calc.py",
    )
    notes = [e.text for e in run.events if isinstance(e, NoticeEvent)]
    assert sum("the same edit_file call again with nothing changed" in n for n in notes) == 2
    edits = [e for e in run.events if isinstance(e, ToolCallEvent) and e.tool == "edit_file"]
    assert len(edits) == 1


def test_code_left_failing_at_the_end_is_in_the_final_event_as_evidence(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    """spec_roman ended "done, NOT verified" with `return` outside a function in roman.py
    and nothing in the summary said so."""
    run = run_session(
        [
            Reply.call("write_file", path="roman.py", content="def f(n):\n    pass\nreturn n\n"),
            Reply.call("run", command="python3 -m py_compile roman.py"),
            Reply.call("finish", summary="done"),
            Reply.call("finish", summary="done"),
            Reply.call("finish", summary="done"),
        ],
        task="Implement `f(n)` in roman.py.",
    )
    assert run.finish.broken and "roman.py:3: 'return' outside function" in run.finish.broken[0]
    assert "code left failing: roman.py:3: 'return' outside function" in run.finish.summary
    fixed = run_session([Reply.call("finish", summary="nothing to do")], task="Look around.")
    assert fixed.finish.broken == [] and "code left failing" not in fixed.finish.summary


def test_a_file_changed_and_written_back_as_it_was_is_not_a_change(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    run = run_session(
        [
            Reply.call("edit_file", path="calc.py", old="a + b", new="a - b"),
            Reply.call("edit_file", path="calc.py", old="a - b", new="a + b"),
            Reply.call("write_file", path="notes.txt", content="x\n"),
            Reply.call("finish", summary="changed calc.py"),
        ],
        task="look at calc.py",
    )
    assert [c.path for c in run.finish.files_changed] == ["notes.txt"]
    assert "calc.py" not in run.finish.diff
