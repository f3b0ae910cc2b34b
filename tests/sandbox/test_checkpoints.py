"""Checkpoints: every change set the sandbox applies is recorded first in a shadow repository
outside the workspace; undo restores the workspace byte for byte, refuses (changing
nothing) where the user changed a file since, never touches the user's git, and never
stores the content of a read-denied path."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox import Sandbox
from sandbox.checkpoints import Checkpoints, UndoRefused
from sandbox.shadow import repo_for

pytestmark = pytest.mark.docker


def tree(root: Path) -> dict[str, tuple[str, bytes, bool]]:
    """Every entry under `root`: kind, content (or link target), executable bit."""
    out: dict[str, tuple[str, bytes, bool]] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(path).encode(), False)
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", b"", False)
        else:
            out[rel] = ("file", path.read_bytes(), bool(st.st_mode & 0o100))
    return out


def make_ws(root: Path) -> Path:
    ws = root / "ws"
    (ws / "src" / "pkg").mkdir(parents=True)
    (ws / "src" / "pkg" / "a.py").write_text("print('a')\n")
    (ws / "src" / "b.bin").write_bytes(bytes(range(256)) * 40)
    (ws / "README.md").write_text("hello\n")
    (ws / "old").mkdir()
    (ws / "old" / "gone.txt").write_text("to be deleted\n")
    (ws / "run.sh").write_text("#!/bin/sh\necho run\n")
    (ws / "link").symlink_to("README.md")
    (ws / "secrets").mkdir()
    (ws / "secrets" / "kept.txt").write_text("do not read\n")
    return ws


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_ws(tmp_path)


@pytest.fixture
def recorded(
    ws: Path, tmp_path: Path, image: str, make_sandbox: Callable[..., Sandbox]
) -> tuple[Sandbox, Checkpoints]:
    checkpoints = Checkpoints(tmp_path / "data" / "checkpoints", ws, "s1")
    sb = make_sandbox(ws, image, read_deny=("secrets", "secrets/**", "*.key", "**/*.key"))
    labels = iter(range(1, 100))
    sb.on_change_set = lambda changes: checkpoints.record(changes, f"call {next(labels)}")
    return sb, checkpoints


STEPS = [
    "echo 'print(1)' > src/pkg/a.py && chmod +x run.sh && printf '\\0\\1binary' > src/new.bin",
    "rm -r old && mkdir -p made/deep && echo x > made/deep/x.txt && ln -sfn src link",
    "mv src/b.bin src/c.bin && echo 'TOPSECRET-7f3a' > written.key && rm README.md",
]


def test_undo_puts_the_workspace_back_byte_for_byte_step_by_step(
    ws: Path, recorded: tuple[Sandbox, Checkpoints]
) -> None:
    sb, checkpoints = recorded
    snapshots = [tree(ws)]
    with sb:
        for command in STEPS:
            assert sb.run(command).exit_code == 0
            snapshots.append(tree(ws))
    assert [s.number for s in checkpoints.steps()] == [1, 2, 3]
    assert snapshots[3] != snapshots[0]
    report = checkpoints.undo(to=2)
    after = tree(ws)
    # the read-denied file's content was never kept: it stays, and the report says so
    assert "written.key" in report.left
    del after["written.key"]
    assert after == snapshots[2]
    checkpoints.undo(to=0)
    after = tree(ws)
    del after["written.key"]
    expected = snapshots[0]
    # folders the session created are removed when empty; its deleted folder is back
    assert after == expected
    assert checkpoints.steps() == []


def test_undo_refuses_naming_the_files_the_user_changed_since_and_changes_nothing(
    ws: Path, recorded: tuple[Sandbox, Checkpoints]
) -> None:
    sb, checkpoints = recorded
    with sb:
        assert sb.run("echo agent > README.md && echo new > notes.txt").exit_code == 0
    (ws / "README.md").write_text("the user's edit\n")
    before = tree(ws)
    with pytest.raises(UndoRefused) as refused:
        checkpoints.undo()
    assert refused.value.paths == ["README.md"]
    assert "README.md" in refused.value.message
    assert tree(ws) == before


def test_the_session_diff_shows_the_whole_change(
    ws: Path, recorded: tuple[Sandbox, Checkpoints]
) -> None:
    sb, checkpoints = recorded
    with sb:
        for command in STEPS:
            sb.run(command)
    diff = checkpoints.diff()
    assert "-print('a')\n+print(1)" in diff
    assert "deleted file mode 100644\n" in diff and "a/old/gone.txt" in diff
    assert "old mode 100644\nnew mode 100755" in diff  # run.sh became executable
    assert "# folder created: made" in diff
    assert "TOPSECRET" not in diff and "read-denied file created: written.key" in diff


def all_objects(git_dir: Path) -> bytes:
    env = {"GIT_DIR": str(git_dir), "PATH": os.environ["PATH"]}
    done = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        capture_output=True,
        env=env,
        check=True,
    )
    return done.stdout


def test_read_denied_content_never_reaches_the_shadow_repository(
    ws: Path, tmp_path: Path, recorded: tuple[Sandbox, Checkpoints]
) -> None:
    sb, checkpoints = recorded
    with sb:
        for command in STEPS:
            sb.run(command)
    assert (ws / "written.key").read_text() == "TOPSECRET-7f3a\n"
    stored = all_objects(checkpoints.repo.git_dir)
    assert b"print(1)" in stored  # the repository does hold the readable changes
    assert b"TOPSECRET" not in stored and b"do not read" not in stored


def digest_tree(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        h.update(str(path.relative_to(root)).encode())
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def test_the_users_git_repository_index_and_branches_are_never_touched(
    ws: Path, tmp_path: Path, recorded: tuple[Sandbox, Checkpoints]
) -> None:
    git = ["git", "-C", str(ws), "-c", "user.name=u", "-c", "user.email=u@x"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "README.md", "src"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    before = digest_tree(ws / ".git")
    sb, checkpoints = recorded
    with sb:
        assert sb.run("echo changed > README.md").exit_code == 0
    checkpoints.undo()
    assert digest_tree(ws / ".git") == before
    shadow = checkpoints.repo.git_dir
    assert shadow == repo_for(tmp_path / "data" / "checkpoints", ws)
    assert ws not in shadow.parents


def test_a_change_set_that_cannot_be_checkpointed_is_not_applied(
    ws: Path, tmp_path: Path, image: str, make_sandbox: Callable[..., Sandbox]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    checkpoints = Checkpoints(blocker, ws, "s1")
    sb = make_sandbox(ws, image)
    sb.on_change_set = lambda changes: checkpoints.record(changes, "call")
    with sb:
        result = sb.run("echo agent > README.md")
        assert "checkpoint not written" in result.stderr
        assert sb.read_file("README.md") == b"hello\n"  # put back in the sandbox too
    assert (ws / "README.md").read_text() == "hello\n"
