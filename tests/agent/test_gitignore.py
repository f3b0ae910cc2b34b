"""list_files leaves out what .gitignore ignores (git's rules, nested files, negations)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.gitignore import GitIgnore
from agent.testing import FakeSandbox, Reply
from agent.tools import TOOLS
from agent.tools.base import ToolContext
from tests.agent.conftest import Run

FILES = {
    ".gitignore": "build/\n*.log\n!keep.log\n/top-only.txt\n",
    "src/app.py": "",
    "src/.gitignore": "generated_*.py\n!generated_keep.py\n",
    "src/generated_a.py": "",
    "src/generated_keep.py": "",
    "src/top-only.txt": "",
    "top-only.txt": "",
    "build/out.o": "",
    "build/keep.log": "",
    "debug.log": "",
    "keep.log": "",
    ".git/config": "",
    "README.md": "",
}


def listing(fake: FakeSandbox, **args: str) -> str:
    tool = TOOLS["list_files"]
    return tool.call(ToolContext(sandbox=fake), tool.parse(args)).content


def test_ignored_files_folders_and_git_itself_are_left_out() -> None:
    out = listing(FakeSandbox(FILES)).splitlines()
    assert "src/app.py" in out and "README.md" in out and "keep.log" in out
    assert "src/generated_keep.py" in out and "src/top-only.txt" in out
    for gone in ("build/", "build/out.o", "debug.log", "top-only.txt", "src/generated_a.py"):
        assert gone not in out
    assert not [line for line in out if line.startswith(".git/")]
    assert out[-1] == "(8 not shown: .git/ and what .gitignore ignores)"


def test_a_file_inside_an_ignored_folder_cannot_be_re_included() -> None:
    assert GitIgnore.load(FakeSandbox(FILES)).ignored("build/keep.log")


def test_listing_a_subfolder_applies_the_root_gitignore_and_the_glob() -> None:
    out = listing(FakeSandbox(FILES), path="src", glob="*.py").splitlines()
    assert out[:2] == ["src/app.py", "src/generated_keep.py"]
    assert "src/generated_a.py" not in out


def test_without_a_gitignore_nothing_is_hidden_but_git_internals() -> None:
    out = listing(FakeSandbox({"a.log": "", "b/c.txt": "", ".git/HEAD": ""}))
    assert out.splitlines() == [
        "a.log",
        "b/",
        "b/c.txt",
        "(2 not shown: .git/ and what .gitignore ignores)",
    ]


@pytest.mark.docker
def test_the_real_sandbox_listing_honours_gitignore(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    (workspace / ".gitignore").write_text("venv/\n*.pyc\n")
    (workspace / "venv").mkdir()
    (workspace / "venv" / "lib.py").write_text("x\n")
    (workspace / "calc.pyc").write_bytes(b"\x00")
    run = run_session([Reply.call("list_files"), Reply.call("finish", summary="listed")])
    out = run.results()[0].content.splitlines()
    assert "calc.py" in out and ".gitignore" in out
    assert not [line for line in out if line.startswith("venv") or line.endswith(".pyc")]
