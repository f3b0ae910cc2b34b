"""Red team of the agent aids (rename_symbol, the check before the first turn, pointers,
ignored arguments): each attack tried for real, through the real policy and a real
sandbox on a scripted model. An attack that holds stays here as the wall's description."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.approval import ApprovalAnswer, ApprovalRequest
from agent.events import CheckEvent
from agent.testing import Reply
from tests.agent.conftest import POLICY, Run

pytestmark = pytest.mark.docker

SECRET = "super-secret-value"  # the conftest workspace's .env
STORE = "def get_usr(uid):\n    return uid\n"
MAIN = "from store import get_usr\n\nprint(get_usr(1))\n"
GUARDED = POLICY.replace('deny: [".git/**"]', 'deny: [".git/**", "vendor/**"]')


def _first_prompt(run: Run) -> str:
    return str(run.server.requests[0]["messages"][1]["content"])


def _everything_the_model_saw(run: Run) -> str:
    return "\n".join(str(m.get("content")) for m in run.server.requests[-1]["messages"])


@pytest.fixture
def project(workspace: Path) -> Path:
    (workspace / "store.py").write_text(STORE)
    (workspace / "main.py").write_text(MAIN)
    (workspace / "vendor").mkdir()
    (workspace / "vendor" / "copy.py").write_text("get_usr = 1\n")
    (workspace / ".git").mkdir()
    (workspace / ".git" / "config").write_text("[core]\n\tget_usr = true\n")
    (workspace / ".env").write_text(f"API_TOKEN={SECRET}\nget_usr = 1\n")
    return workspace


def test_symlinks_to_denied_files_and_outside_carry_no_rename_there(
    run_session: Callable[..., Run], project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("get_usr = 'outside'\n")
    os.symlink(".git/config", project / "cfg.py")
    os.symlink("vendor/copy.py", project / "vend.py")
    os.symlink(".env", project / "env.py")
    os.symlink(str(outside), project / "out.py")
    os.symlink("vendor", project / "vdir")
    run = run_session(
        [
            Reply.call("rename_symbol", old="get_usr", new="get_user", path="cfg.py"),
            Reply.call("rename_symbol", old="get_usr", new="get_user", path="vend.py"),
            Reply.call("rename_symbol", old="get_usr", new="get_user", path="env.py"),
            Reply.call("rename_symbol", old="get_usr", new="get_user", path="out.py"),
            Reply.call("rename_symbol", old="get_usr", new="get_user", path="vdir"),
            Reply.call("rename_symbol", old="get_usr", new="get_user"),
            Reply.call("finish", summary="renamed"),
        ],
        task="Rename get_usr to get_user",
        policy_text=GUARDED,
    )
    assert (project / ".git" / "config").read_text() == "[core]\n\tget_usr = true\n"
    assert (project / "vendor" / "copy.py").read_text() == "get_usr = 1\n"
    assert (project / ".env").read_text() == f"API_TOKEN={SECRET}\nget_usr = 1\n"
    assert outside.read_text() == "get_usr = 'outside'\n"
    for name, target in [("cfg.py", ".git/config"), ("vend.py", "vendor/copy.py")]:
        assert os.readlink(project / name) == target  # still the link, not a copy
    assert "get_user" in (project / "main.py").read_text()  # the allowed rename happened
    seen = _everything_the_model_saw(run)
    assert SECRET not in seen
    assert all(r.diff is None or SECRET not in r.diff for r in run.results())


def test_a_hard_link_to_a_denied_file_changes_neither_it_nor_leaks_it(
    run_session: Callable[..., Run], project: Path
) -> None:
    os.link(project / ".git" / "config", project / "hard_cfg.py")
    os.link(project / ".env", project / "hard_env.py")
    run = run_session(
        [
            Reply.call("rename_symbol", old="get_usr", new="get_user"),
            Reply.call("finish", summary="renamed"),
        ],
        task="Rename get_usr to get_user",
    )
    assert (project / ".git" / "config").read_text() == "[core]\n\tget_usr = true\n"
    assert (project / ".env").read_text() == f"API_TOKEN={SECRET}\nget_usr = 1\n"
    assert "get_user" in (project / "main.py").read_text()
    assert SECRET not in _everything_the_model_saw(run)
    assert "hard_env" not in _everything_the_model_saw(run)  # hidden under every name


@pytest.mark.parametrize(
    "path", ["..", "/workspace/../", "/workspace/..", "/etc", "/tmp/../workspace/x", "a/../../b"]
)
def test_a_path_outside_the_workspace_is_refused_before_anything_runs(
    run_session: Callable[..., Run], project: Path, path: str
) -> None:
    run = run_session(
        [
            Reply.call("rename_symbol", old="get_usr", new="get_user", path=path),
            Reply.call("finish", summary="renamed"),
        ],
        task="Rename get_usr to get_user",
    )
    answer = run.results()[0]
    assert answer.is_error and (
        "outside the workspace" in answer.content or "escapes" in answer.content
    )
    assert (project / "main.py").read_text() == MAIN


def test_option_and_glob_looking_names_are_files_to_rg_never_options(
    run_session: Callable[..., Run], project: Path
) -> None:
    (project / "--pre=sh").write_text("get_usr = 1\n")
    (project / "-e").write_text("get_usr = 2\n")
    (project / "*.py").write_text("get_usr = 3\n")
    (project / "--files").write_text("get_usr = 4\n")
    run = run_session(
        [
            Reply.call("rename_symbol", old="get_usr", new="get_user", path="--pre=sh"),
            Reply.call("rename_symbol", old="get_usr", new="get_user", path="*.py"),
            Reply.call("rename_symbol", old="get_usr", new="get_user"),
            Reply.call("finish", summary="renamed"),
        ],
        task="Rename get_usr to get_user",
    )
    pre, glob, everywhere = run.results()[:3]
    assert not pre.is_error and "--pre=sh (1)" in pre.content
    assert not glob.is_error and "*.py (1)" in glob.content
    assert "main.py" not in glob.content  # the glob was a name, not a pattern
    for name, n in [("--pre=sh", 1), ("-e", 2), ("*.py", 3), ("--files", 4)]:
        assert (project / name).read_text() == f"get_user = {n}\n"
    assert not everywhere.is_error or "nothing renamed" in everywhere.content
    assert (project / ".git" / "config").read_text() == "[core]\n\tget_usr = true\n"


def test_a_file_name_with_a_newline_cannot_point_the_rename_outside_its_folder(
    run_session: Callable[..., Run], project: Path
) -> None:
    """rg prints one name a line: `lib/q<newline>main.py` must not read as `main.py`."""
    (project / "lib").mkdir()
    (project / "lib" / "a.py").write_text("get_usr = 1\n")
    (project / "lib" / "q\nmain.py").write_text("get_usr = 2\n")
    run = run_session(
        [
            Reply.call("rename_symbol", old="get_usr", new="get_user", path="lib"),
            Reply.call("finish", summary="renamed"),
        ],
        task="Rename get_usr to get_user in lib",
    )
    answer = run.results()[0]
    assert not answer.is_error, answer.content
    assert (project / "main.py").read_text() == MAIN  # outside `path`: untouched
    assert (project / "store.py").read_text() == STORE
    assert (project / "lib" / "a.py").read_text() == "get_user = 1\n"
    assert (project / "lib" / "q\nmain.py").read_text() == "get_user = 2\n"


def test_a_file_name_with_a_newline_and_dot_dot_does_not_break_the_rename(
    run_session: Callable[..., Run], project: Path
) -> None:
    """Invented variant: `d<newline>..` as a folder made rg print `../x.py`, which reads as
    an escape: the rename must still do the allowed files, not blame the model's path."""
    (project / "d\n..").mkdir()
    (project / "d\n.." / "x.py").write_text("get_usr = 5\n")
    run = run_session(
        [
            Reply.call("rename_symbol", old="get_usr", new="get_user"),
            Reply.call("finish", summary="renamed"),
        ],
        task="Rename get_usr to get_user",
    )
    answer = run.results()[0]
    assert not answer.is_error, answer.content
    assert (project / "d\n.." / "x.py").read_text() == "get_user = 5\n"
    assert "get_user" in (project / "main.py").read_text()


def test_asked_writes_denied_by_the_approver_are_left_and_named(
    run_session: Callable[..., Run], project: Path
) -> None:
    asking = POLICY.replace(
        'write: {allow: ["**"], deny: [".git/**"]}',
        'write: {allow: ["store.py", "main.py"], deny: [".git/**"]}',
    )
    run = run_session(
        [
            Reply.call("rename_symbol", old="get_usr", new="get_user"),
            Reply.call("finish", summary="renamed"),
        ],
        task="Rename get_usr to get_user",
        policy_text=asking,
    )
    answer = run.results()[0]
    assert "vendor/copy.py" in answer.content.split("not changed:")[1]
    assert (project / "vendor" / "copy.py").read_text() == "get_usr = 1\n"
    assert (project / "main.py").read_text() == MAIN.replace("get_usr", "get_user")
    asked = [
        (d.decision, d.approver)
        for d in run.decisions()
        if d.action == {"kind": "fs.write", "path": "vendor/copy.py"}
    ]
    assert asked == [("deny", "headless")]


def test_a_hard_link_made_in_the_sandbox_to_a_denied_file_carries_no_rename_there(
    run_session: Callable[..., Run], project: Path
) -> None:
    """A command's hard link in the sandbox (`zz.py` = `vendor/copy.py`) is itself refused
    as a change of the denied file, so the rename's later write of `zz.py` stays there."""
    with_ln = GUARDED.replace(
        '  - match: ["ls", "**"]',
        '  - match: ["ln", "**"]\n    decision: allow\n  - match: ["ls", "**"]',
    )
    run = run_session(
        [
            Reply.call("run", command="ln vendor/copy.py zz.py; ln -s vendor/copy.py zy.py"),
            Reply.call("rename_symbol", old="get_usr", new="get_user"),
            Reply.call("rename_symbol", old="get_usr", new="get_user", path="zy.py"),
            Reply.call("finish", summary="renamed"),
        ],
        task="Rename get_usr to get_user",
        policy_text=with_ln,
    )
    assert "write refused: modified vendor/copy.py" in run.results()[0].content
    assert (project / "vendor" / "copy.py").read_text() == "get_usr = 1\n"
    assert (project / "main.py").read_text() == MAIN.replace("get_usr", "get_user")
    assert os.readlink(project / "zy.py") == "vendor/copy.py"


class ChangesTheHostWhenAsked:
    """The person edits (or deletes) `c.py` in their editor while the agent waits for their
    answer about `b.py`, then says no: a real approver, a real concurrent host change."""

    def __init__(self, workspace: Path, delete: bool) -> None:
        self.workspace, self.delete = workspace, delete

    def ask(self, request: ApprovalRequest) -> ApprovalAnswer:
        if self.delete:
            (self.workspace / "c.py").unlink()
        else:
            (self.workspace / "c.py").write_text("get_usr = 'edited by the person'\n")
        return ApprovalAnswer(choice="deny", message="no", approver="person")


@pytest.mark.parametrize("delete", [False, True])
def test_a_write_refused_at_the_wall_mid_rename_still_reports_the_files_renamed(
    run_session: Callable[..., Run], project: Path, delete: bool
) -> None:
    for name in ("a.py", "b.py", "c.py", "d.py"):
        (project / name).write_text("get_usr = 1\n")
    asking = POLICY.replace('deny: [".git/**"]}', 'deny: [".git/**"], ask: ["b.py"]}')
    run = run_session(
        [
            Reply.call("rename_symbol", old="get_usr", new="get_user"),
            Reply.call("finish", summary="renamed"),
        ],
        task="Rename get_usr to get_user",
        approver=ChangesTheHostWhenAsked(project, delete),
        policy_text=asking,
    )
    answer = run.results()[0]
    if delete:  # the person's deletion stands
        assert not (project / "c.py").exists()
    else:  # the person's edit stands
        assert (project / "c.py").read_text() == "get_usr = 'edited by the person'\n"
    assert (project / "a.py").read_text() == "get_user = 1\n"
    assert (project / "d.py").read_text() == "get_user = 1\n"
    assert "a.py (1)" in answer.content and "d.py (1)" in answer.content
    not_changed = answer.content.split("not changed:")[1]
    assert "b.py" in not_changed and "c.py" in not_changed


def _checks(run: Run) -> list[CheckEvent]:
    return [e for e in run.events if isinstance(e, CheckEvent)]


def _with_check(workspace: Path, command: str) -> None:
    (workspace / ".rempart").mkdir(exist_ok=True)
    (workspace / ".rempart" / "project.yaml").write_text(f"check: {command!r}\n")


@pytest.mark.parametrize(
    "command",
    [
        "curl http://example.com/x",
        "python3 mark.py && curl http://example.com/x",
        "python3 mark.py; pip install requests",  # an ask, and nobody is there to say yes
        "rm -rf calc.py",  # no rule: the default, ask
    ],
)
def test_a_workspace_check_the_policy_would_not_run_is_not_run_before_the_first_turn(
    run_session: Callable[..., Run], workspace: Path, command: str
) -> None:
    (workspace / "mark.py").write_text("open('ran.txt', 'w').write('ran')\n")
    _with_check(workspace, command)
    run = run_session([Reply.call("finish", summary="nothing")], task="Tidy calc.py")
    first = _checks(run)[0]
    assert first.attempt == 0 and first.check.exit_code is None and first.check.note
    assert not (workspace / "ran.txt").exists()
    assert (workspace / "calc.py").exists()
    assert "Before any change" not in _first_prompt(run)
    execs = [d for d in run.decisions() if d.action.get("kind") == "exec"]
    assert execs and execs[0].decision == "deny"


def test_a_check_that_prints_the_env_file_shows_the_model_nothing_of_it(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    (workspace / "test_leak.py").write_text(
        "import pathlib\n\n\ndef test_leak():\n"
        "    names = [p for p in pathlib.Path('/').rglob('.env*')]\n"
        "    found = [p.read_text() for p in names if p.is_file()]\n"
        "    assert False, (names, found, open('.env').read())\n"
    )
    os.symlink(".env", workspace / "env_link")
    run = run_session(
        [Reply.call("finish", summary="nothing")],
        task="Make `python3 -m pytest -q` pass; the `API_TOKEN` must not leak.",
    )
    prompt = _first_prompt(run)
    assert "FAILS" in prompt and "No such file or directory: '.env'" in prompt
    assert SECRET not in prompt
    assert "- `API_TOKEN`: in no file yet" in prompt  # the pointer never looked in .env
    assert SECRET not in (_checks(run)[0].check.output_tail or "")


def test_a_hanging_check_at_start_ends_at_the_policys_timeout(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    (workspace / "hang.py").write_text("import time\n\ntime.sleep(3600)\n")
    _with_check(workspace, "python3 hang.py")
    quick = POLICY.replace("timeout_s: 30", "timeout_s: 2")
    run = run_session(
        [Reply.call("finish", summary="nothing")], task="Tidy calc.py", policy_text=quick
    )
    first = _checks(run)[0]
    assert first.attempt == 0 and first.check.note == "timed out"
    assert run.server.requests  # the model got its turn
    assert "exited" in _first_prompt(run) or "FAILS" in _first_prompt(run)


def test_pointers_never_read_through_links_to_denied_or_outside_files(
    run_session: Callable[..., Run], workspace: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("API_TOKEN=from-outside-the-workspace\n")
    os.symlink(".env", workspace / "a_env.txt")
    os.link(workspace / ".env", workspace / "b_env.txt")
    os.symlink(str(outside), workspace / "c_out.txt")
    os.symlink("/proc/self/environ", workspace / "d_environ.txt")
    os.symlink("/proc/1/environ", workspace / "e_environ.txt")
    run = run_session(
        [Reply.call("finish", summary="nothing")],
        task="Rename `API_TOKEN` to `TOKEN`.",
    )
    prompt = _first_prompt(run)
    assert SECRET not in prompt and "from-outside-the-workspace" not in prompt
    assert "- `API_TOKEN`: in no file yet" in prompt


def test_a_run_of_a_read_denied_or_linked_script_says_nothing_of_its_text(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    (workspace / "secret").mkdir()
    (workspace / "secret" / "s.py").write_text("import sys\nprint(sys.stdin.read())\n")
    (workspace / "envscript.py").symlink_to(".env")
    (workspace / "r.py").symlink_to("secret/s.py")
    hidden = POLICY.replace('deny: [".env", "**/*.pem"]', 'deny: [".env", "**/*.pem", "secret/**"]')
    run = run_session(
        [
            Reply.call("run", command="python3 secret/s.py data.txt"),
            Reply.call("run", command="python3 r.py data.txt"),
            Reply.call("run", command="python3 envscript.py data.txt"),
            Reply.call("finish", summary="ran"),
        ],
        task="Run the scripts",
        policy_text=hidden,
    )
    for result in run.results()[:3]:
        assert "never reads its command-line arguments" not in result.content
        assert SECRET not in result.content and "sys.stdin" not in result.content


def test_a_fifo_made_by_the_check_at_start_does_not_hang_the_pointers(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    """The project's own test (a hostile repository's) leaves a FIFO in the sandbox; the
    pointers then read every file: an open of a FIFO with no writer never returns."""
    (workspace / "test_fifo.py").write_text(
        "import os\n\n\ndef test_fifo():\n    os.mkfifo('pipe.txt')\n    assert False\n"
    )
    (workspace / "shapes.py").write_text("def area_of_circle(r):\n    return 3 * r * r\n")
    run = run_session(
        [Reply.call("list_files", path="."), Reply.call("finish", summary="nothing")],
        task="Make `python3 -m pytest -q` pass; see `area_of_circle`.",
    )
    prompt = _first_prompt(run)
    assert "FAILS" in prompt and "rebuilt" not in prompt
    assert "- `area_of_circle`:\n    shapes.py:1: def area_of_circle(r):" in prompt
    assert not run.results()[0].is_error  # the sandbox still answers


def test_a_fifo_made_by_a_command_never_blocks_the_sandbox_s_file_operations(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    """Invented variant: the model's own command makes the FIFO, then every file tool (and
    rename_symbol, and the run note reading the script) meets it."""
    (workspace / "mk.py").write_text("import os\n\nos.mkfifo('pipe.py')\n")
    run = run_session(
        [
            Reply.call("run", command="python3 mk.py"),
            Reply.call("read_file", path="pipe.py"),
            Reply.call("write_file", path="pipe.py", content="x = 1\n"),
            Reply.call("rename_symbol", old="add", new="plus", path="pipe.py"),
            Reply.call("run", command="python3 pipe.py data.txt", timeout_s=3),
            Reply.call("list_files", path="."),
            Reply.call("finish", summary="done"),
        ],
        task="Rename add to plus",
    )
    made, read, write, rename, ran, listed = run.results()[:6]
    assert "write refused: created pipe.py: only files, folders and symlinks" in made.content
    assert "rebuilt" not in made.content  # the sandbox answered at once
    for result in (read, write, rename, ran, listed):
        assert "rebuilt" not in result.content and "no answer" not in result.content
    assert rename.is_error
    assert "never reads its command-line arguments" not in ran.content
    assert not listed.is_error and "calc.py" in listed.content
    assert (workspace / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert (workspace / "pipe.py").read_text() == "x = 1\n"  # a plain file, written after


@pytest.mark.slow
@pytest.mark.parametrize("tool", ["rename_symbol", "edit_file"])
def test_a_file_over_the_sandboxs_read_size_is_never_written_back_cut_short(
    run_session: Callable[..., Run], project: Path, tool: str
) -> None:
    """The executor answers a read with 16 MiB at most: a file read once and written back
    lost its tail (rename_symbol touches files the model never looked at)."""
    big = project / "big.txt"  # generated data: not parsed as code
    body = "".join(f"{n:08} {'a' * 1000}\n" for n in range(20_000))  # about 20 MiB
    big.write_text("get_usr = 1\n" + body + "TAIL = 'kept'\n")
    call = (
        Reply.call("rename_symbol", old="get_usr", new="get_user", path="big.txt")
        if tool == "rename_symbol"
        else Reply.call("edit_file", path="big.txt", old="get_usr = 1\n", new="get_user = 1\n")
    )
    run = run_session(
        [
            Reply.call("read_file", path="big.txt", end_line=2),
            call,
            Reply.call("finish", summary="done"),
        ],
        task="Rename get_usr to get_user",
    )
    assert not run.results()[1].is_error, run.results()[1].content
    assert big.read_text() == "get_user = 1\n" + body + "TAIL = 'kept'\n"  # nothing lost


@pytest.mark.parametrize(
    "data",
    [
        "get_usr = 'caf\u00e9'\n".encode("latin-1"),  # text, but not UTF-8
        b"get_usr = 1\n\0\xff\xfe binary after the name\n",  # invented: a binary file
    ],
)
def test_a_file_that_is_not_utf8_text_is_left_byte_for_byte_and_named(
    run_session: Callable[..., Run], project: Path, data: bytes
) -> None:
    (project / "legacy.py").write_bytes(data)
    run = run_session(
        [
            Reply.call("rename_symbol", old="get_usr", new="get_user"),
            Reply.call("finish", summary="done"),
        ],
        task="Rename get_usr to get_user",
    )
    answer = run.results()[0]
    assert (project / "legacy.py").read_bytes() == data
    assert "get_user" in (project / "main.py").read_text()
    if "legacy.py" in answer.content:  # rg may pass over a binary file: then not even named
        assert "legacy.py (not UTF-8 text" in answer.content


def test_a_file_list_past_the_output_limit_is_said_not_silently_cut(
    run_session: Callable[..., Run], project: Path
) -> None:
    """ripgrep's list of files is capped like any output: the names past the cap (and the
    one cut in half) are not renamed, and the answer says so instead of claiming all."""
    (project / "pkg").mkdir()
    for n in range(60):
        (project / "pkg" / f"module_with_a_rather_long_name_{n:02}.py").write_text("get_usr = 1\n")
    small = POLICY.replace("output_bytes: 200000", "output_bytes: 1000")
    run = run_session(
        [
            Reply.call("rename_symbol", old="get_usr", new="get_user", path="pkg"),
            Reply.call("finish", summary="done"),
        ],
        task="Rename get_usr to get_user",
        policy_text=small,
    )
    answer = run.results()[0]
    assert not answer.is_error, answer.content
    assert "past the search's output limit: run it per folder" in answer.content
    renamed = [p for p in (project / "pkg").iterdir() if p.read_text() == "get_user = 1\n"]
    assert 0 < len(renamed) < 60
    assert f"in {len(renamed)} files" in answer.content
