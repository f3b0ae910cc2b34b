"""Fixtures for TUI tests: settings in a temp folder, an app around a replayed session, and a
bounded wait on a condition (no sleeps)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from agent.approval import ApprovalRequest
from agent.events import FinishEvent
from agent.session_args import SessionArgs
from agent.settings import Settings
from policies import Decision
from tui.app import RempartApp
from tui.testing import FIXED_TS, ReplayFactory, Step

TEAM_POLICY = """\
version: 1
name: team
default: ask
files:
  read: {allow: ["**"], deny: [".env"]}
  write: {allow: ["**"]}
exec:
  - match: ["pytest", "**"]
    decision: allow
  - match: ["curl", "**"]
    decision: deny
    reason: no network tools
"""


class RecordingApp(RempartApp):
    """The app, remembering its notifications for assertions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notes: list[str] = []

    def notify(self, message: str, **kwargs: Any) -> None:  # type: ignore[override]
        self.notes.append(message)
        super().notify(message, **kwargs)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        config_dir=tmp_path / "config",
        org_policy_dir=tmp_path / "org",
        model_base_url="http://127.0.0.1:9/v1",
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@pytest.fixture
def make_app(settings: Settings, workspace: Path) -> Callable[..., RecordingApp]:
    def build(steps: list[Step], task: str | None = None, **config: Any) -> RecordingApp:
        factory = ReplayFactory(steps)
        app = RecordingApp(
            settings,
            SessionArgs(workspace=workspace, **config),
            session_factory=factory,
            clock=lambda: 0.0,
            task=task,
        )
        app.factory = factory  # type: ignore[attr-defined]
        return app

    return build


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until `condition()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {condition}")
        await pilot.pause(0.01)
    await pilot.pause()


async def until_idle(pilot: Pilot[Any]) -> None:
    """Wait until the app's session has ended."""
    app = pilot.app
    assert isinstance(app, RempartApp)
    await wait_for(
        pilot, lambda: app.session_screen.status.state != "idle" and not app.session_screen.running
    )


def finished(summary: str = "greet() now says hello; tests pass") -> FinishEvent:
    return FinishEvent(status="finished", summary=summary, ts=FIXED_TS)


def ask_request(
    command: str = "rm -rf build",
    always: bool = True,
    rule: str | None = None,
    reason: str = "no rule matched: the default is ask",
) -> ApprovalRequest:
    decision = Decision(
        decision="ask",
        rule=rule,
        layer="user" if rule else None,
        source="policy.yaml:7" if rule else None,
        reason=reason,
    )
    return ApprovalRequest(
        session_id="",
        call_id="c9",
        tool="run",
        action={"kind": "exec", "command": command, "cwd": "."},
        decision=decision,
        always_rule=f'exec:\n  - match: ["{command.split()[0]}", "**"]\n    decision: allow\n'
        if always
        else None,
        always_file="/home/dev/.config/rempart/policy.yaml",
    )
