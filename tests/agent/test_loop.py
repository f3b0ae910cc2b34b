"""The loop, end to end through the real policy engine and a real sandbox, on a scripted model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from agent.approval import ApprovalAnswer, ApprovalRequest, PolicyApprover
from agent.audit import AuditLog
from agent.audit_verify import verify_settings
from agent.discovery import Layer, load_policy_set
from agent.events import ErrorEvent, NoticeEvent, ToolCallEvent
from agent.loop import LoopLimits
from agent.store import Store
from agent.testing import Reply
from tests.agent.conftest import POLICY, Run

pytestmark = pytest.mark.docker


def test_a_task_writes_a_file_runs_it_and_finishes(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    run = run_session(
        [
            Reply.call("write_file", path="hello.py", content="print('hello')\n"),
            Reply.call("run", command="python3 hello.py"),
            Reply.call("finish", summary="hello.py prints hello"),
        ]
    )
    assert run.finish.status == "finished"
    assert (workspace / "hello.py").read_text() == "print('hello')\n"
    out = run.results()
    assert out[0].diff is not None and "+print('hello')" in out[0].diff
    assert out[1].exit_code == 0 and "hello" in out[1].content
    assert verify_settings(run.settings).ok


def test_workspace_paths_given_as_absolute_sandbox_paths_are_accepted(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    run = run_session(
        [Reply.call("read_file", path="/workspace/calc.py"), Reply.call("finish", summary="read")]
    )
    assert "return a + b" in run.results()[0].content


def test_reading_the_env_file_is_denied_by_the_tool_and_by_a_shell_command(
    run_session: Callable[..., Run],
) -> None:
    run = run_session(
        [
            Reply.call("read_file", path=".env"),
            Reply.call("run", command="cat .env"),
            Reply.call("run", command="ls -a; cat ./.env"),
            Reply.call("finish", summary="could not"),
        ]
    )
    denied = [d for d in run.decisions() if d.decision == "deny"]
    assert len(denied) == 3
    assert all(d.rule and d.source for d in denied)
    assert all("super-secret-value" not in r.content for r in run.results())
    assert all(r.is_error for r in run.results()[:3])
    assert verify_settings(run.settings).ok


def test_the_masked_secret_is_unreadable_even_when_the_policy_is_fooled(
    run_session: Callable[..., Run],
) -> None:
    run = run_session(
        [
            Reply.call("run", command="python3 -c \"print(open('.env').read())\""),
            Reply.call("finish", summary="done"),
        ],
    )
    # python3 -c is dynamic code: the policy must not allow it silently, and even if it
    # ran, the sandbox masks the file.
    assert all("super-secret-value" not in r.content for r in run.results())


def test_a_commands_denied_writes_are_refused_reported_and_audited(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    script = (
        "import os\nos.makedirs('.git/hooks', exist_ok=True)\n"
        "open('.git/hooks/pre-commit', 'w').write('touch /tmp/pwned')\n"
        "open('calc.py', 'a').write('# edited\\n')\n"
    )
    run = run_session(
        [
            Reply.call("write_file", path="w.py", content=script),
            Reply.call("run", command="python3 w.py"),
            Reply.call("finish", summary="done"),
        ]
    )
    out = run.results()[1]
    assert "[write refused: created .git/hooks/pre-commit" in out.content
    assert not (workspace / ".git" / "hooks" / "pre-commit").exists()
    assert (workspace / "calc.py").read_text().endswith("# edited\n")  # allowed: applied
    refused = [d for d in run.decisions() if d.approver == "change-layer"]
    assert {d.action["path"] for d in refused} >= {".git/hooks/pre-commit"}
    assert all(d.decision == "deny" and d.reason for d in refused)
    records = [json.loads(line) for line in run.settings.audit_log.read_text().splitlines()]
    assert any(r.get("approver") == "change-layer" for r in records)
    assert verify_settings(run.settings).ok


def test_malformed_arguments_unknown_tools_and_wrong_types_go_back_to_the_model(
    run_session: Callable[..., Run],
) -> None:
    run = run_session(
        [
            Reply.raw_call("write_file", '{"path": "a.py", "content": '),
            Reply.call("delete_everything", path="."),
            Reply.call("read_file", path="calc.py", start_line="first"),
            Reply.raw_call("read_file", '{"path": "calc.py"} and then I will edit it'),
            Reply.call("finish", summary="ok"),
        ]
    )
    assert run.finish.status == "finished"
    out = run.results()
    assert "not valid JSON" in out[0].content and out[0].is_error
    assert "no tool 'delete_everything'" in out[1].content
    assert "start_line" in out[2].content and out[2].is_error
    assert "return a + b" in out[3].content
    tool_messages = [m for m in run.server.requests[1]["messages"] if m["role"] == "tool"]
    assert "not valid JSON" in tool_messages[-1]["content"]
    assert any(isinstance(e, ToolCallEvent) and e.repaired for e in run.events)


def test_edit_file_refuses_zero_or_several_matches(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    (workspace / "twice.py").write_text("x = 1\nx = 1\n")
    run = run_session(
        [
            Reply.call("edit_file", path="twice.py", old="x = 1", new="x = 2"),
            Reply.call("edit_file", path="twice.py", old="y = 1", new="x = 2"),
            Reply.call("edit_file", path="twice.py", old="x = 1\nx = 1", new="x = 2"),
            Reply.call("finish", summary="ok"),
        ]
    )
    out = run.results()
    assert "occurs 2 times" in out[0].content and "not found" in out[1].content
    assert not out[2].is_error and (workspace / "twice.py").read_text() == "x = 2\n"


def test_a_model_server_dying_mid_stream_ends_the_session_cleanly_and_it_can_resume(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    run = run_session(
        [
            Reply.call("write_file", path="a.py", content="x = 1\n"),
            Reply(text="partial", die_mid_stream=True),
        ]
    )
    assert run.finish.status == "failed"
    assert any(isinstance(e, ErrorEvent) and "resume" in e.hint for e in run.events)
    store = Store(run.settings.sessions_db)
    assert store.get(run.session_id).status == "failed"
    store.close()
    resumed = run_session(
        [Reply.call("run", command="cat a.py"), Reply.call("finish", summary="resumed and done")],
        resume_id=run.session_id,
    )
    assert resumed.session_id == run.session_id and resumed.finish.status == "finished"
    history = resumed.server.requests[0]["messages"]
    assert any(m["role"] == "tool" and "wrote a.py" in m["content"] for m in history)
    assert history[-1]["content"].startswith("The session was resumed")
    assert "x = 1" in resumed.results()[0].content


def test_asks_are_denied_headless_and_approved_by_an_auto_approval_policy(
    run_session: Callable[..., Run], tmp_path: Path
) -> None:
    replies = [Reply.call("run", command="wc -l calc.py"), Reply.call("finish", summary="ok")]
    headless = run_session(list(replies))
    assert [d.decision for d in headless.decisions()] == ["deny"]
    assert "not approved (headless)" in headless.results()[0].content
    approvals = tmp_path / "approve.yaml"
    approvals.write_text(
        'version: 1\nname: approve\ndefault: deny\nfiles:\n  read: {allow: ["**"]}\n'
        'exec:\n  - match: ["wc", "**"]\n    decision: allow\n'
    )
    approver = PolicyApprover(
        load_policy_set([Layer(name="approve", path=approvals)]), "approve.yaml"
    )
    approved = run_session(list(replies), approver=approver)
    assert approved.decisions()[0].decision == "allow"
    assert approved.decisions()[0].approver == "auto:approve.yaml"
    assert "calc.py" in approved.results()[0].content


class Recorder:
    def __init__(self, choice: str) -> None:
        self.choice = choice
        self.requests: list[ApprovalRequest] = []

    def ask(self, request: ApprovalRequest) -> ApprovalAnswer:
        self.requests.append(request)
        return ApprovalAnswer(choice=self.choice, message="use ls instead")  # type: ignore[arg-type]


def test_allow_for_the_session_is_asked_once_and_deny_passes_the_message_to_the_model(
    run_session: Callable[..., Run],
) -> None:
    replies = [
        Reply.call("run", command="wc -l calc.py"),
        Reply.call("run", command="wc -l calc.py"),
        Reply.call("finish", summary="ok"),
    ]
    once = Recorder("session")
    run = run_session(list(replies), approver=once)
    assert len(once.requests) == 1
    assert [d.approver for d in run.decisions()] == ["user", "session-approval"]
    deny = Recorder("deny")
    run = run_session(list(replies), approver=deny)
    assert "use ls instead" in run.results()[0].content


def test_allow_always_writes_a_reviewed_rule_that_the_next_session_applies(
    run_session: Callable[..., Run],
) -> None:
    replies = [Reply.call("run", command="wc -l calc.py"), Reply.call("finish", summary="ok")]
    always = Recorder("always")
    first = run_session(list(replies), approver=always)
    assert always.requests[0].always_rule is not None
    approved = Path(always.requests[0].always_file)
    assert "allow always" in approved.read_text()
    assert yaml.safe_load(approved.read_text())["exec"][0]["match"] == ["wc", "-l", "calc.py"]
    assert "calc.py" in first.results()[0].content
    nobody = Recorder("deny")
    second = run_session(list(replies), approver=nobody)
    assert nobody.requests == []
    assert second.decisions()[0].decision == "allow"
    assert (
        second.decisions()[0].source is not None and "approved.yaml" in second.decisions()[0].source
    )


def test_allow_always_is_not_offered_against_an_explicit_ask_rule(
    run_session: Callable[..., Run],
) -> None:
    asked = Recorder("once")
    run_session(
        [Reply.call("run", command="pip install requests"), Reply.call("finish", summary="x")],
        approver=asked,
    )
    assert asked.requests[0].always_rule is None
    assert "installs need a look" in asked.requests[0].decision.reason


FETCH = (
    "import sys, urllib.request\n"
    "for url in sys.argv[1:]:\n"
    "    try:\n"
    "        print(url, urllib.request.urlopen(url, timeout=20).status)\n"
    "    except Exception as exc:\n"
    "        print(url, 'FAIL', exc)\n"
)


def test_egress_attempts_through_the_proxy_are_in_the_audit_log(
    run_session: Callable[..., Run],
) -> None:
    policy = POLICY.replace("limits:", 'network:\n  allow: ["pypi.org:443"]\nlimits:')
    run = run_session(
        [
            Reply.call("write_file", path="fetch.py", content=FETCH),
            Reply.call(
                "run", command="python3 fetch.py https://pypi.org/simple/ https://example.com/"
            ),
            Reply.call("finish", summary="fetched"),
        ],
        policy_text=policy,
    )
    assert "https://pypi.org/simple/ 200" in run.results()[1].content
    egress = [r for r in AuditLog.for_settings(run.settings).records() if r.kind == "egress"]
    seen = [((r.action or {}).get("host"), r.decision) for r in egress]
    assert seen == [
        (None, "host"),
        ("pypi.org", "allow"),
        ("pypi.org", "closed"),
        ("example.com", "deny"),
    ]
    model, allowed, closed, _denied = (r.action or {} for r in egress)
    assert model == {"kind": "model.connect", "url": run.settings.model_base_url}
    assert allowed["conn"] == closed["conn"] and allowed["sandbox"] == closed["sandbox"]
    assert closed["bytes_up"] > 200 and closed["bytes_down"] > 1000  # a TLS handshake, a page
    assert verify_settings(run.settings).ok


def test_a_denied_exec_names_the_rule_and_its_reason(run_session: Callable[..., Run]) -> None:
    run = run_session(
        [Reply.call("run", command="curl http://example.com"), Reply.call("finish", summary="x")]
    )
    denial = run.decisions()[0]
    assert denial.decision == "deny" and "no network tools" in denial.reason
    assert "denied by policy" in run.results()[0].content


def test_a_huge_or_binary_output_is_capped_and_escaped(run_session: Callable[..., Run]) -> None:
    run = run_session(
        [
            Reply.call("write_file", path="big.py", content="print('y' * 100_000_000)\n"),
            Reply.call("run", command="python3 big.py"),
            Reply.call("run", command="head -c 3000 /dev/urandom"),
            Reply.call("finish", summary="ok"),
        ]
    )
    big, binary = run.results()[1:3]
    assert len(big.content) < 40_000 and big.truncated
    assert "\x00" not in binary.content and "\x1b" not in binary.content


def test_a_repeated_failing_call_is_detected_and_finishing_after_a_failure_is_questioned(
    run_session: Callable[..., Run],
) -> None:
    failing = Reply.call("run", command="python3 missing.py")
    run = run_session(
        [
            failing,
            failing.model_copy(),
            failing.model_copy(),
            Reply.call("finish", summary="done"),
            Reply.call("finish", summary="it fails, expected"),
        ]
    )
    assert any(isinstance(e, NoticeEvent) and "repeated" in e.text for e in run.events)
    assert run.finish.claim == "it fails, expected"
    assert "failed (exit code" in run.server.requests[4]["messages"][-1]["content"]


def test_a_killed_container_fails_the_call_cleanly_and_the_next_call_gets_a_new_one(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    run = run_session(
        [
            Reply.call("write_file", path="keep.txt", content="kept\n"),
            Reply.call("run", command="kill -9 -1; sleep 1"),
            Reply.call("run", command="python3 -c \"import os; os.system('kill -KILL 1')\""),
            Reply.call("run", command="cat keep.txt"),
            Reply.call("finish", summary="ok"),
        ],
    )
    assert run.finish.status == "finished"
    assert "kept" in run.results()[3].content
    assert (workspace / "keep.txt").read_text() == "kept\n"


def test_step_limits_stop_the_session_with_the_limit_status(
    run_session: Callable[..., Run],
) -> None:
    run = run_session([Reply.call("list_files")] * 5, limits=LoopLimits(max_steps=3))
    assert run.finish.status == "limit" and "step limit" in run.finish.summary


def test_a_turn_without_a_tool_call_is_nudged_then_given_up(
    run_session: Callable[..., Run],
) -> None:
    run = run_session([Reply(text="I think it is done.")] * 5)
    assert run.finish.status == "failed" and "stopped calling tools" in run.finish.summary


def test_text_mode_reads_calls_written_in_the_prompted_format(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    replies = [
        Reply(
            text='<tool_call>\n{"name": "write_file", '
            '"arguments": {"path": "t.txt", "content": "t"}}\n</tool_call>'
        ),
        Reply(
            text='Done.\n<tool_call>{"name": "finish", "arguments": {"summary": "ok"}}</tool_call>'
        ),
    ]
    run = run_session(replies, overrides={"tool_call_mode": "text"})
    assert run.finish.status == "finished" and (workspace / "t.txt").read_text() == "t"
    first = run.server.requests[0]
    assert "tools" not in first
    assert "<tool_call>" in first["messages"][0]["content"]
