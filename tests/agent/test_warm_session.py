"""Sessions of a long-lived host take their sandbox from a warm pool (agent.warm): real
containers, real policy, a scripted model server over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.approval import DenyApprover
from agent.events import Event, FinishEvent, SessionStarted, ToolResultEvent
from agent.loop import LoopLimits
from agent.session import Session, SessionOptions
from agent.settings import Settings
from agent.testing import Reply, ScriptedModelServer
from agent.warm import Warm
from sandbox import Sandbox
from sandbox.container import list_resources
from sandbox.engine import docker_client

pytestmark = pytest.mark.docker

# ways the model could look for the hidden file: `cat .env` and `python3 -c` are refused by
# the exec policy before they run (the sandbox-level tests run them, tests/sandbox/
# test_pool.py); `ls -la` runs in the sandbox
PEEKS = ["cat .env", "ls -la", "python3 -c \"print(open('.env').read())\""]


class Host:
    """A host process that starts sessions one after another with the same `Warm`."""

    def __init__(
        self, warm: Warm, make_settings: Callable[..., Settings], policy_file: Path
    ) -> None:
        self.warm, self.make_settings, self.policy_file = warm, make_settings, policy_file
        self.containers: list[str] = []
        self.pooled: list[bool] = []

    def session(
        self,
        workspace: Path,
        replies: list[Reply],
        server: ScriptedModelServer | None = None,
        **overrides: object,
    ) -> tuple[FinishEvent, list[Event], Session]:
        events: list[Event] = []
        own = server is None
        server = server or ScriptedModelServer(replies)
        if own:
            server.__enter__()
        else:
            server.replies = list(replies)
        try:
            settings = self.make_settings(model_base_url=server.base_url, **overrides)
            options = SessionOptions(
                task="look around",
                workspace=workspace,
                policy_files=[self.policy_file],
                approver=DenyApprover(),
                limits=LoopLimits(max_steps=10),
                warm=self.warm,
            )
            with Session(settings, options, [events.append]) as session:
                assert session._sandbox is not None
                box = session._sandbox.current
                assert isinstance(box, Sandbox)
                self.containers.append(box.container_id)
                self.pooled.append(box.pooled)
                finish = session.run()
        finally:
            if own:
                server.close()
        return finish, events, session

    def fill(self, session: Session) -> None:
        """Wait until the pool of `session`'s hardening spec is full."""
        self.warm.pools.pool_for(session._spec).wait_ready(timeout=120)


@pytest.fixture
def host(make_settings: Callable[..., Settings], policy_file: Path) -> Iterator[Host]:
    with Warm(pool_size=1) as warm:
        yield Host(warm, make_settings, policy_file)


def outputs(events: list[Event]) -> str:
    return "\n".join(e.content for e in events if isinstance(e, ToolResultEvent))


def test_a_pooled_session_cannot_read_what_its_policy_hides(
    host: Host, workspace: Path, tmp_path: Path
) -> None:
    """The pool was filled for another workspace; the pooled session sees its own
    workspace minus `.env` (ls -a, grep; cat and python are refused before they run)."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "pool-owner-only.txt").write_text("not yours\n")
    _, _, first = host.session(other, [Reply.call("finish", summary="ok")])
    host.fill(first)
    (workspace / "late.txt").write_text("created after the pool was filled\n")
    script = [
        *[Reply.call("run", command=peek) for peek in PEEKS],
        Reply.call("grep", pattern="super-secret", path="."),
        Reply.call("run", command="cat late.txt; ls"),
        Reply.call("finish", summary="looked"),
    ]
    finish, events, _ = host.session(workspace, script)
    assert host.pooled == [False, True]
    assert finish.status == "finished"
    shown = outputs(events)
    assert "super-secret-value" not in shown
    assert "API_TOKEN" not in shown
    assert "pool-owner-only" not in shown
    assert "created after the pool was filled" in shown
    listing = [e for e in events if isinstance(e, ToolResultEvent)][1]
    assert listing.exit_code == 0
    assert "calc.py" in listing.content and ".env" not in listing.content


def test_a_pooled_session_writes_only_what_its_policy_allows(host: Host, workspace: Path) -> None:
    _, _, first = host.session(workspace, [Reply.call("finish", summary="ok")])
    host.fill(first)
    script = [
        Reply.call("write_file", path="new.py", content="x = 1\n"),
        Reply.call("write_file", path=".git/config", content="[core]\n\thooksPath = /tmp\n"),
        Reply.call("finish", summary="wrote"),
    ]
    host.session(workspace, script)
    assert host.pooled == [False, True]
    assert (workspace / "new.py").read_text() == "x = 1\n"
    assert not (workspace / ".git" / "config").exists()


def test_a_pooled_sandbox_serves_one_session_and_is_removed_at_its_end(
    host: Host, workspace: Path
) -> None:
    _, _, first = host.session(workspace, [Reply.call("finish", summary="ok")])
    host.fill(first)
    host.session(workspace, [Reply.call("finish", summary="ok")])
    host.fill(first)
    host.session(workspace, [Reply.call("finish", summary="ok")])
    assert host.pooled == [False, True, True]
    assert len(set(host.containers)) == 3
    client = docker_client()
    try:
        alive = {r.name for r in list_resources(client)} | {
            c.id for c in client.containers.list(all=True, ignore_removed=True)
        }
    finally:
        client.close()
    assert not alive & set(host.containers)


def test_a_session_whose_spec_hardens_differently_starts_cold(
    host: Host, workspace: Path, policy_file: Path
) -> None:
    _, _, first = host.session(workspace, [Reply.call("finish", summary="ok")])
    host.fill(first)
    policy_file.write_text(policy_file.read_text().replace("memory: 1g", "memory: 768m"))
    host.session(workspace, [Reply.call("finish", summary="ok")])
    text = policy_file.read_text().replace("memory: 768m", "memory: 1g")
    policy_file.write_text(text + "network: {allow: [pypi.org]}\n")
    host.session(workspace, [Reply.call("finish", summary="ok")])
    assert host.pooled == [False, False, False]


def test_sessions_close_together_reuse_the_model_probe_and_a_stale_one_is_redone(
    host: Host, workspace: Path
) -> None:
    with ScriptedModelServer([]) as server:
        host.session(workspace, [Reply.call("finish", summary="ok")], server)
        server.model = "renamed-model"
        _, cached, _ = host.session(workspace, [Reply.call("finish", summary="ok")], server)
        host.warm.probes.lifetime_s = 0.0  # what was probed is now stale
        _, fresh, _ = host.session(workspace, [Reply.call("finish", summary="ok")], server)
    started = [e for e in cached + fresh if isinstance(e, SessionStarted)]
    assert [e.model for e in started] == ["scripted-model", "renamed-model"]


def test_a_file_only_the_next_sessions_policy_hides_is_not_in_its_pooled_sandbox(
    host: Host, workspace: Path, policy_file: Path
) -> None:
    """Same hardening, other read rules: the pool was filled while `notes.txt` was
    readable; the session whose policy hides it does not see it."""
    (workspace / "notes.txt").write_text("shown-to-the-first-only\n")
    look = [
        Reply.call("run", command="ls -la"),
        Reply.call("list_files", path="."),
        Reply.call("grep", pattern="shown-to-the-first", path="."),
        Reply.call("finish", summary="looked"),
    ]
    _, seen, first = host.session(workspace, look)
    assert "notes.txt" in outputs(seen) and "shown-to-the-first-only" in outputs(seen)
    host.fill(first)
    policy_file.write_text(policy_file.read_text().replace('".env",', '".env", "notes.txt",'))
    _, hidden, _ = host.session(workspace, look)
    assert host.pooled == [False, True]
    results = [e for e in hidden if isinstance(e, ToolResultEvent)]
    assert "calc.py" in results[0].content and "calc.py" in results[1].content
    assert "notes.txt" not in outputs(hidden)
    assert "shown-to-the-first-only" not in outputs(hidden)
