"""Fixtures for loop tests: a real policy, a real sandbox, a scripted model over real HTTP."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.approval import Approver, DenyApprover
from agent.events import DecisionEvent, Event, FinishEvent, ToolResultEvent
from agent.loop import LoopLimits
from agent.session import Session, SessionOptions
from agent.settings import Settings
from agent.testing import Reply, ScriptedModelServer
from tests.agent.pg import pg_server, pg_url  # noqa: F401  (PostgreSQL fixtures)

POLICY = """\
version: 1
name: loop-tests
default: ask
files:
  read: {allow: ["**"], deny: [".env", "**/*.pem"]}
  write: {allow: ["**"], deny: [".git/**"]}
exec:
  - match: ["python3", "**"]
    decision: allow
  - match: ["ls", "**"]
    decision: allow
  - match: ["cat", "**"]
    decision: allow
  - match: ["head", "**"]
    decision: allow
  - match: ["sleep", "**"]
    decision: allow
  - match: ["curl", "**"]
    decision: deny
    reason: no network tools
  - match: ["pip", "**"]
    decision: ask
    reason: installs need a look
limits: {cpus: 1, memory: 1g, pids: 128, timeout_s: 30, output_bytes: 200000}
"""


@dataclass
class Run:
    finish: FinishEvent
    events: list[Event]
    server: ScriptedModelServer
    settings: Settings
    session_id: str

    def results(self) -> list[ToolResultEvent]:
        return [e for e in self.events if isinstance(e, ToolResultEvent)]

    def decisions(self) -> list[DecisionEvent]:
        return [e for e in self.events if isinstance(e, DecisionEvent)]


MCP_SERVER = Path(__file__).with_name("data") / "mcp_server.py"  # a small stdio server


@pytest.fixture
def mcp_workspace(workspace: Path, tmp_path: Path) -> Path:
    (workspace / "tools").mkdir()
    shutil.copy(MCP_SERVER, workspace / "tools" / "mcp_server.py")
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "mcp.yaml").write_text(
        'servers:\n  demo:\n    command: ["python3", "/workspace/tools/mcp_server.py"]\n'
    )
    return workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (ws / ".env").write_text("API_TOKEN=super-secret-value\n")
    return ws


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture
def make_settings(tmp_path: Path, image: str) -> Callable[..., Settings]:
    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "data_dir": tmp_path / "data",
            "config_dir": tmp_path / "config",
            "org_policy_dir": tmp_path / "org",
            "sandbox_image": image,
            "tool_call_mode": "required",
            "model_retries": 0,
            "model_timeout_s": 30.0,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return build


@pytest.fixture
def run_session(
    workspace: Path, policy_file: Path, make_settings: Callable[..., Settings]
) -> Callable[..., Run]:
    def run(
        replies: list[Reply],
        task: str = "do the thing",
        approver: Approver | None = None,
        limits: LoopLimits | None = None,
        resume_id: str | None = None,
        overrides: dict[str, object] | None = None,
        policy_text: str | None = None,
    ) -> Run:
        if policy_text is not None:
            policy_file.write_text(policy_text)
        events: list[Event] = []
        with ScriptedModelServer(replies) as server:
            settings = make_settings(model_base_url=server.base_url, **(overrides or {}))
            options = SessionOptions(
                task=task,
                workspace=workspace,
                policy_files=[policy_file],
                approver=approver or DenyApprover(),
                limits=limits or LoopLimits(max_steps=15),
                resume_id=resume_id,
            )
            with Session(settings, options, [events.append]) as session:
                finish = session.run()
                sid = session.id
        return Run(finish, events, server, settings, sid)

    return run


@pytest.fixture
def env(tmp_path: Path, image: str) -> dict[str, str]:
    return {
        **os.environ,
        "REMPART_DATA_DIR": str(tmp_path / "data"),
        "REMPART_CONFIG_DIR": str(tmp_path / "config"),
        "REMPART_ORG_POLICY_DIR": str(tmp_path / "org"),
        "REMPART_SANDBOX_IMAGE": image,
        "REMPART_TOOL_CALL_MODE": "required",
        "REMPART_MODEL_RETRIES": "0",
    }
