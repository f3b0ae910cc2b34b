"""A crash while the change layer writes to the host never leaves a half-written file:
each file is its old bytes or its new bytes, and the temporary files a crash leaves are
never shown to a sandbox and removed by the next start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import Sandbox, SandboxSpec

OLD, NEW, SIZE, FILES = b"O", b"N", 300_000, 60

# Applies a change set of FILES modified files, printing a line as each is staged, through
# the real change layer (the sandbox side replaced by a function giving the new bytes).
CHILD = f"""
import sys
from pathlib import Path
from sandbox.changes import Applier, Change, Verdict, settle
from sandbox.view import build_view
root = Path(sys.argv[1])
view = build_view(root, lambda path: True)
def content(path):
    print("staging " + path, flush=True)
    return {NEW!r} * {SIZE}
changes = [Change(path=f"f{{i:03d}}.txt", change="modified", kind="file", mode=0o644,
                  size={SIZE}) for i in range({FILES})]
settle(changes, view, lambda change: Verdict(allowed=True), Applier(view, content))
print("done", flush=True)
"""


def workspace(root: Path) -> Path:
    ws = root / "ws"
    ws.mkdir()
    for i in range(FILES):
        (ws / f"f{i:03d}.txt").write_bytes(OLD * SIZE)
    return ws


def apply_and_kill(ws: Path, after_lines: int | None) -> str:
    """Run the child; SIGKILL it after `after_lines` staging lines, or (None) as soon as
    the first file has been renamed into place. Returns the last line it printed."""
    first = ws / "f000.txt"
    inode = first.stat().st_ino
    last = ""
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ws)], stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        try:
            for count, line in enumerate(proc.stdout, start=1):
                last = line.strip()
                if after_lines is not None and count >= after_lines:
                    break
                if after_lines is None and count >= FILES:
                    # every file is staged: the renames start now; kill at the first one
                    while first.stat().st_ino == inode and proc.poll() is None:
                        continue
                    break
        finally:
            proc.kill()
    return last


def check_whole(ws: Path) -> tuple[int, int]:
    """(files with the old bytes, files with the new bytes); anything else fails."""
    old = new = 0
    for i in range(FILES):
        data = (ws / f"f{i:03d}.txt").read_bytes()
        assert data in (OLD * SIZE, NEW * SIZE), f"f{i:03d}.txt is half-written"
        old, new = old + (data == OLD * SIZE), new + (data == NEW * SIZE)
    return old, new


@pytest.mark.parametrize("after_lines", [1, FILES // 2, FILES, None])
def test_a_kill_9_during_a_change_set_leaves_each_file_old_or_new(
    tmp_path: Path, after_lines: int | None
) -> None:
    ws = workspace(tmp_path)
    apply_and_kill(ws, after_lines)
    old, new = check_whole(ws)
    assert old + new == FILES
    if after_lines is None:
        assert new >= 1  # killed among the renames: some files are new, none is half


@pytest.mark.docker
def test_the_temporary_files_a_crash_left_are_never_shown_and_removed_at_start(
    tmp_path: Path, image: str
) -> None:
    ws = workspace(tmp_path)
    apply_and_kill(ws, FILES // 2)
    left = [p.name for p in ws.iterdir() if p.name.endswith(".tmp")]
    assert left, "the kill came before any temporary file was made"
    with Sandbox(SandboxSpec(workspace=ws, image=image)) as sb:
        listed = sb.run("ls -a").stdout.split()
    assert not set(left) & set(listed)
    assert [p.name for p in ws.iterdir() if p.name.endswith(".tmp")] == []
    # every file whole (old or new): on a loaded machine the kill may land after some renames
    # (CI at c0d9a4d: 58 files already new), which is the change set's own crash safety
    assert os.listdir(ws) and sum(check_whole(ws)) == FILES
