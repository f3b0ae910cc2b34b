"""Undo, end to end: a scripted session changes the workspace through its tools, `rempart
sessions diff` shows the whole change, `rempart undo` restores it byte for byte (or to a
step), refusing clearly where the user changed a file since; one session per workspace."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from agent.testing import Reply, ScriptedModelServer
from tests.agent.headless import audit_ok, events_of, lines_of, rempart, run_task, start_run

pytestmark = pytest.mark.docker

REPLIES = [
    Reply.call("write_file", path="notes/new.md", content="# new\n"),
    Reply.call("edit_file", path="calc.py", old="a + b", new="a - b"),
    Reply.call("write_file", path="append.py", content="open('calc.py', 'a').write('# end\\n')\n"),
    Reply.call("run", command="python3 append.py"),
    Reply.call("run", command="ls"),
    Reply.call("finish", summary="done"),
]


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every path: its bytes (a folder: none) and its mode."""
    out = {}
    for path in sorted(root.rglob("*")):
        data = path.read_bytes() if path.is_file() else b""
        out[str(path.relative_to(root))] = (data, stat.S_IMODE(path.lstat().st_mode))
    return out


def session(env: dict[str, str], workspace: Path, policy_file: Path) -> str:
    with ScriptedModelServer(list(REPLIES)) as server:
        done = run_task("change things", workspace, policy_file, server.base_url, env, "--json")
    assert done.returncode == 0, done.stderr
    return str(events_of(done.stdout)[0]["session_id"])


def test_a_sessions_change_is_shown_and_undone_byte_for_byte(
    env: dict[str, str], workspace: Path, policy_file: Path
) -> None:
    before = tree(workspace)
    sid = session(env, workspace, policy_file)
    changed = tree(workspace)
    assert changed["calc.py"][0] == b"def add(a, b):\n    return a - b\n# end\n"
    diff = rempart("sessions", "diff", sid, env=env)
    assert diff.returncode == 0
    assert "+++ b/notes/new.md" in diff.stdout and "+    return a - b" in diff.stdout
    steps = rempart("sessions", "diff", sid, "--stat", env=env).stdout
    assert "step 4" in steps and "step 5" not in steps  # `ls` changed nothing
    to_two = rempart("undo", sid, "--to", "2", env=env)
    assert to_two.returncode == 0, to_two.stderr
    assert (workspace / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"
    assert not (workspace / "append.py").exists()
    undone = rempart("undo", "--workspace", str(workspace), env=env)  # the latest session
    assert undone.returncode == 0, undone.stderr
    assert "restored calc.py" in undone.stdout
    assert tree(workspace) == before
    assert audit_ok(env)


def test_undo_refuses_naming_a_file_the_user_changed_since(
    env: dict[str, str], workspace: Path, policy_file: Path
) -> None:
    sid = session(env, workspace, policy_file)
    (workspace / "calc.py").write_text("the user's own version\n")
    refused = rempart("undo", sid, env=env)
    assert refused.returncode == 1
    assert "changed since the session wrote them: calc.py" in refused.stderr
    assert (workspace / "calc.py").read_text() == "the user's own version\n"
    assert (workspace / "notes" / "new.md").exists()  # nothing was undone


def test_a_second_session_on_a_workspace_is_refused_until_the_first_one_dies(
    env: dict[str, str], workspace: Path, policy_file: Path
) -> None:
    replies = [Reply.call("run", command="sleep 120"), Reply.call("finish", summary="x")]
    with ScriptedModelServer(replies) as server:
        with start_run(workspace, policy_file, server.base_url, env) as first:
            try:
                for event in lines_of(first):
                    if event["type"] == "tool_call":
                        break
                second = run_task("another", workspace, policy_file, server.base_url, env)
                undo = rempart("undo", "--workspace", str(workspace), env=env)
            finally:
                first.kill()
        assert second.returncode != 0
        assert "is in use by session" in second.stderr and f"(pid {first.pid})" in second.stderr
        assert undo.returncode != 0 and "in use by session" in undo.stderr
        # kill -9 released the lock: the next session runs
        third = run_task("again", workspace, policy_file, server.base_url, env, "--json")
    assert third.returncode == 0, third.stderr
