"""rename_symbol: one call renames a name in every file, whole words only, each file put to
the policy first; through the real policy and a real sandbox on a scripted model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.audit import AuditLog
from agent.pointers import where_named
from agent.session import system_prompt
from agent.testing import Reply
from agent.tools import TOOLS, tools_for
from tests.agent.conftest import POLICY, Run

pytestmark = pytest.mark.docker

STORE = (
    "def get_usr(uid):\n    return {'id': uid}\n\n\n"
    "def get_usr_name(uid):\n    return get_usr(uid)['id']\n"
)
MAIN = "from store import get_usr\n\nprint(get_usr(1))\n"
GUARDED = POLICY.replace('deny: [".git/**"]', 'deny: [".git/**", "vendor/**"]')


@pytest.fixture
def project(workspace: Path) -> Path:
    (workspace / "store.py").write_text(STORE)
    (workspace / "main.py").write_text(MAIN)
    (workspace / "vendor").mkdir()
    (workspace / "vendor" / "copy.py").write_text("from store import get_usr\n")
    (workspace / ".env").write_text("API_TOKEN=get_usr-secret\n")
    return workspace


def test_a_rename_reaches_every_allowed_file_and_no_other_name(
    run_session: Callable[..., Run], project: Path
) -> None:
    run = run_session(
        [
            Reply.call("rename_symbol", old="get_usr", new="get_user"),
            Reply.call("run", command="python3 main.py"),
            Reply.call("finish", summary="renamed"),
        ],
        task="Rename get_usr to get_user",
        policy_text=GUARDED,
    )
    store = (project / "store.py").read_text()
    assert store == STORE.replace("get_usr(", "get_user(")  # get_usr_name is another name
    assert "def get_usr_name(uid)" in store
    assert (project / "main.py").read_text() == MAIN.replace("get_usr", "get_user")
    # a write the policy denies is not made, and the answer names it
    assert (project / "vendor" / "copy.py").read_text() == "from store import get_usr\n"
    assert (project / ".env").read_text() == "API_TOKEN=get_usr-secret\n"
    answer = run.results()[0]
    assert not answer.is_error
    assert "main.py (2)" in answer.content and "store.py (2)" in answer.content
    assert "not changed: vendor/copy.py" in answer.content
    assert ".env" not in answer.content  # a read-denied file is not even seen
    assert run.results()[1].exit_code == 0
    writes = [d for d in run.decisions() if d.action.get("kind") == "fs.write"]
    assert {(d.action["path"], d.decision) for d in writes} == {
        ("main.py", "allow"),
        ("store.py", "allow"),
        ("vendor/copy.py", "deny"),
    }
    audited = [r.action for r in AuditLog.for_settings(run.settings).records() if r.action]
    assert {"kind": "fs.write", "path": "vendor/copy.py"} in audited


def test_a_rename_under_a_folder_stays_there_and_bad_names_are_the_models_to_fix(
    run_session: Callable[..., Run], project: Path
) -> None:
    (project / "lib").mkdir()
    (project / "lib" / "a.py").write_text("get_usr = 1\n")
    run = run_session(
        [
            Reply.call("rename_symbol", old="get_usr()", new="get_user"),
            Reply.call("rename_symbol", old="get_usr", new="get_usr"),
            Reply.call("rename_symbol", old="nowhere_name", new="x"),
            Reply.call("rename_symbol", old="get_usr", new="get_user", path="lib"),
            Reply.call("finish", summary="renamed"),
        ],
        task="Rename get_usr to get_user in lib",
        policy_text=GUARDED,
    )
    bad, same, absent, scoped = run.results()[:4]
    assert bad.is_error and "not a single name" in bad.content
    assert same.is_error and "same name" in same.content
    assert absent.is_error and "occurs in no file" in absent.content
    assert not scoped.is_error
    assert (project / "lib" / "a.py").read_text() == "get_user = 1\n"
    assert (project / "main.py").read_text() == MAIN  # outside `path`: untouched


def test_a_file_that_cannot_be_written_is_refused_at_the_wall_too(
    run_session: Callable[..., Run], project: Path
) -> None:
    """The per-file decision and the sandbox's change check both stand: a name in .git's
    config (write-denied) never changes on the host, whatever the tool is asked."""
    (project / ".git").mkdir()
    (project / ".git" / "config").write_text("[core]\n\tget_usr = true\n")
    run_session(
        [
            Reply.call("rename_symbol", old="get_usr", new="get_user", path=".git"),
            Reply.call("rename_symbol", old="get_usr", new="get_user"),
            Reply.call("finish", summary="renamed"),
        ],
        task="Rename get_usr to get_user",
    )
    assert (project / ".git" / "config").read_text() == "[core]\n\tget_usr = true\n"
    assert "get_user" in (project / "main.py").read_text()


@pytest.mark.parametrize(
    ("aids", "task", "offered"),
    [
        (True, "Rename the function `get_usr` to `get_user` everywhere", True),
        (True, "renaming: ReportBuilder becomes SummaryBuilder", True),
        (True, "Add a --limit option to top_errors.py", False),  # the bench's misuse
        (True, "Fix the renamer.py script", False),
        (False, "Rename get_usr to get_user", False),
    ],
)
def test_the_tool_and_its_prompt_line_are_offered_only_to_a_rename_with_the_aids_on(
    aids: bool, task: str, offered: bool
) -> None:
    tools = tools_for(aids, task)
    assert ("rename_symbol" in tools) is offered
    assert set(TOOLS) - set(tools) <= {"rename_symbol"}
    assert ("rename_symbol" in system_prompt(tools)) is offered


def test_the_first_message_says_where_the_tasks_names_are_and_which_call_renames(
    run_session: Callable[..., Run], project: Path
) -> None:
    """Seen in the bench: the model took the first function it saw for the one to rename."""
    run = run_session(
        [Reply.call("finish", summary="looked")],
        task="Rename the function `get_usr` to `get_user` everywhere; add `--verbose_mode`.",
    )
    first = str(run.server.requests[0]["messages"][1]["content"])
    assert "- `get_usr`:\n    main.py:1: from store import get_usr" in first
    assert "store.py:1: def get_usr(uid):" in first
    assert "- `get_user`: in no file yet" in first
    assert "- `--verbose_mode`: in no file yet" in first
    assert 'call rename_symbol {"old": "get_usr", "new": "get_user"} once' in first
    assert "get_usr-secret" not in first  # .env is read-denied: never looked in


def test_nothing_is_pointed_at_when_the_task_names_nothing_nor_a_call_without_the_tool() -> None:
    files = [("a.py", "def get_usr():\n    pass\n")]
    assert where_named("make it faster", lambda: files, True) == ""
    told = where_named("Rename `get_usr` to `get_user`", lambda: files, False)
    assert "a.py:1: def get_usr():" in told and "rename_symbol" not in told
