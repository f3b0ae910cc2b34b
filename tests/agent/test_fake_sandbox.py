"""The loop on a FakeSandbox: real policy engine, real audit log, scripted model over real
HTTP, no Docker engine. (The walls are tested against real containers elsewhere.)"""

from __future__ import annotations

from pathlib import Path

from agent.approval import DenyApprover
from agent.approved import ApprovedStore
from agent.audit import AuditLog
from agent.audit_verify import verify_log
from agent.events import DecisionEvent, Event, NoticeEvent, ToolResultEvent
from agent.evidence import Evidence
from agent.finishing import Finisher
from agent.loop import AgentLoop, LoopLimits
from agent.messages import Message
from agent.model_client import OpenAIModelClient
from agent.runner import CallRunner, SandboxHandle
from agent.testing import FakeSandbox, Reply, ScriptedModelServer
from agent.tools import TOOLS
from agent.tools.base import ToolContext
from policies import PolicySet
from tests.agent.conftest import POLICY


def run_loop(
    fake: FakeSandbox, replies: list[Reply], tmp_path: Path, aids: bool = False
) -> list[Event]:
    events: list[Event] = []
    policy = PolicySet.from_texts([("project", "policy.yaml", POLICY)])
    audit = AuditLog(tmp_path / "audit.jsonl", tmp_path / "audit.key", tmp_path / "audit.head")
    handle = SandboxHandle(lambda: fake)

    def emit(event: Event) -> Event:
        events.append(event)
        return event

    runner = CallRunner(
        "fake-session",
        policy,
        DenyApprover(),
        handle,
        audit,
        emit,
        lambda: ToolContext(sandbox=handle.current),
        ApprovedStore(tmp_path / "config"),
    )
    with ScriptedModelServer(replies) as server:
        client = OpenAIModelClient(server.base_url, "scripted-model", "k", 30.0, 0)
        try:
            finisher = Finisher("do it", None, runner.run_check, Evidence(), aids=aids)
            limits = LoopLimits(max_steps=10)
            loop = AgentLoop(
                client, TOOLS, runner, emit, lambda m: None, "required", limits, finisher=finisher
            )
            finish = loop.run([Message(role="user", content="do it")])
        finally:
            client.close()
    events.append(finish)
    assert verify_log(audit).ok
    return events


def test_the_loop_reads_writes_and_runs_on_a_fake_sandbox_without_an_engine(
    tmp_path: Path,
) -> None:
    fake = FakeSandbox(
        files={"calc.py": "def add(a, b):\n    return a + b\n", ".env": "TOKEN=secret\n"},
        commands={"python3 calc.py": FakeSandbox.result(0, stdout="ran\n")},
    )
    events = run_loop(
        fake,
        [
            Reply.call("read_file", path="calc.py"),
            Reply.call("write_file", path="new.py", content="print(1)\n"),
            Reply.call("run", command="python3 calc.py"),
            Reply.call("read_file", path=".env"),
            Reply.call("finish", summary="done"),
        ],
        tmp_path,
    )
    results = [e for e in events if isinstance(e, ToolResultEvent)]
    assert "return a + b" in results[0].content
    assert fake.files["new.py"] == b"print(1)\n" and fake.written == ["new.py"]
    assert fake.ran == ["python3 calc.py"] and "ran" in results[2].content
    denied = [e for e in events if isinstance(e, DecisionEvent) and e.decision == "deny"]
    assert [d.action["path"] for d in denied] == [".env"]
    assert "secret" not in results[3].content and results[3].is_error
    assert events[-1].type == "finish" and events[-1].status == "finished"


def test_an_unscripted_command_is_exit_127_not_a_host_process(tmp_path: Path) -> None:
    fake = FakeSandbox()
    events = run_loop(
        fake, [Reply.call("run", command="ls -la /"), Reply.call("finish", summary="x")], tmp_path
    )
    result = next(e for e in events if isinstance(e, ToolResultEvent))
    assert result.exit_code == 127 and "not scripted" in result.content


def test_reading_the_same_unchanged_text_again_is_noted_and_a_changed_file_is_not(
    tmp_path: Path,
) -> None:
    fake = FakeSandbox(files={"calc.py": "def add(a, b):\n    return a - b\n"})
    events = run_loop(
        fake,
        [
            Reply.call("read_file", path="calc.py"),
            Reply.call("read_file", path="calc.py"),
            Reply.call("edit_file", path="calc.py", old="a - b", new="a + b"),
            Reply.call("read_file", path="calc.py"),
            Reply.call("finish", summary="done"),
        ],
        tmp_path,
        aids=True,
    )
    notes = [e.text for e in events if isinstance(e, NoticeEvent)]
    assert notes == ["the model read calc.py again, unchanged"]
