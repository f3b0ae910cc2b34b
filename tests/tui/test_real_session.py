"""The TUI driving the real `Session`: scripted model over real HTTP, real policy, real Docker
sandbox. An `ask` rule makes the `run` call wait for the person; each answer is checked in the
transcript and in the session store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.events import DecisionEvent, ToolResultEvent
from agent.session_args import SessionArgs
from agent.settings import Settings
from agent.store import Store
from agent.testing import Reply, ScriptedModelServer
from tui.app import RempartApp
from tui.approval import ApprovalScreen
from tui.widgets.cards import ToolCard

from .conftest import wait_for

pytestmark = pytest.mark.docker

POLICY = """\
version: 1
name: tui-real
default: ask
files:
  read: {allow: ["**"]}
  write: {allow: ["**"]}
exec:
  - match: ["echo", "**"]
    decision: ask
    reason: echo needs a person (tui test)
  - match: ["cat", "**"]
    decision: allow
limits: {cpus: 1, memory: 512m, pids: 64, timeout_s: 30, output_bytes: 20000}
"""


@pytest.fixture
def real(
    tmp_path: Path, image: str, workspace: Path
) -> Callable[..., tuple[RempartApp, ScriptedModelServer]]:
    policy = tmp_path / "tui-real.yaml"
    policy.write_text(POLICY)

    def build(replies: list[Reply]) -> tuple[RempartApp, ScriptedModelServer]:
        server = ScriptedModelServer(replies)
        settings = Settings(
            data_dir=tmp_path / "data",
            config_dir=tmp_path / "config",
            org_policy_dir=tmp_path / "org",
            model_base_url=server.base_url,
            tool_call_mode="required",
            sandbox_image=image,
            model_retries=0,
            model_timeout_s=30.0,
        )
        args = SessionArgs(workspace=workspace, policy_files=(policy,))
        return RempartApp(settings, args, task="say hi twice"), server

    return build


def stored(app: RempartApp) -> list:
    store = Store(app.settings.sessions_db)
    try:
        return store.events(app.session_screen.session_id)
    finally:
        store.close()


ECHO = Reply.call("run", command="echo hi")


@pytest.mark.parametrize(
    ("command", "keys", "approver", "decision"),
    [
        ("echo hi", ["o"], "user", "allow"),
        ("printf hi", ["a"], "user", "allow"),  # no rule asked (the default did): always is offered
        ("echo hi", ["d", *"not now", "enter"], "user", "deny"),
    ],
)
async def test_an_ask_answered_in_the_tui_reaches_the_real_session(
    real, command, keys, approver, decision
) -> None:
    app, server = real([Reply.call("run", command=command), Reply.call("finish", summary="done")])
    with server:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen), timeout=120)
            always_file = Path(app.screen.request.always_file)
            offered = not app.screen.query_one("#always").disabled
            assert offered == (command == "printf hi")
            if command == "echo hi":
                assert "echo needs a person (tui test)" in str(
                    app.screen.query_one("#approval-reason").content
                )
            await pilot.press(*keys)
            await wait_for(pilot, lambda: not app.session_screen.running, 120)
            card = app.screen.query(ToolCard).first()
            assert card.item.decisions[-1].decision == decision
            assert card.has_class("-deny") == (decision == "deny")
    events = stored(app)
    decisions = [e for e in events if isinstance(e, DecisionEvent)]
    results = [e for e in events if isinstance(e, ToolResultEvent)]
    assert [(d.decision, d.approver) for d in decisions] == [(decision, approver)]
    if decision == "allow":
        assert results[0].exit_code == 0 and "hi" in results[0].content
    else:
        assert "not now" in results[0].content
        assert "not now" in str(server.requests[-1]["messages"][-1]["content"])
    if keys == ["a"]:
        assert "printf" in always_file.read_text()


async def test_allow_for_the_session_is_not_asked_again(real) -> None:
    app, server = real([ECHO, ECHO, Reply.call("finish", summary="done")])
    with server:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen), timeout=120)
            await pilot.press("s")
            await wait_for(pilot, lambda: not app.session_screen.running, 120)
            cards = [c for c in app.screen.query(ToolCard) if c.item.decisions]
            assert [c.item.decisions[-1].approver for c in cards] == ["user", "session-approval"]
    decisions = [e for e in stored(app) if isinstance(e, DecisionEvent)]
    assert [(d.decision, d.approver) for d in decisions] == [
        ("allow", "user"),
        ("allow", "session-approval"),
    ]


async def test_a_second_message_continues_the_same_session_and_ctrl_n_starts_a_new_one(
    real,
) -> None:
    replies = [
        Reply.call("list_files"),
        Reply.call("finish", summary="first done"),
        Reply.call("finish", summary="second done"),
        Reply.call("finish", summary="fresh start"),
    ]
    app, server = real(replies)
    with server:
        async with app.run_test(size=(100, 30)) as pilot:
            screen = app.session_screen
            await wait_for(pilot, lambda: not screen.running and screen.session_id, 120)
            first = screen.session_id
            screen.query_one("#task").text = "now say bye"
            await pilot.press("enter")
            await wait_for(pilot, lambda: len(server.requests) >= 3 and not screen.running, 120)
            assert screen.session_id == first
            history = server.requests[2]["messages"]
            assert history[1]["content"].endswith("Your task:\nsay hi twice")
            assert history[-1] == {"role": "user", "content": "now say bye"}
            await pilot.press("ctrl+n")
            screen.query_one("#task").text = "something else"
            await pilot.press("enter")
            await wait_for(pilot, lambda: len(server.requests) >= 4 and not screen.running, 120)
            assert screen.session_id != first
            assert [m["role"] for m in server.requests[3]["messages"]] == ["system", "user"]
