"""Completion scripts and the man page come from the parser itself: every command is there,
and each script is valid for its shell (checked by the shell, where it is installed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rempart.cli import build_parser
from rempart.completion import SHELLS, completion_script, man_page
from tests.rempart.test_cli import GROUPS

pytestmark = pytest.mark.smoke
CHECK = {"bash": ["bash", "-n"], "zsh": ["zsh", "-n"], "fish": ["fish", "--no-execute"]}


def rempart(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rempart", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("shell", SHELLS)
def test_the_completion_script_names_every_command_and_its_options(shell: str) -> None:
    done = rempart("completion", shell)
    assert done.returncode == 0, done.stderr
    for word in [*GROUPS, "workspace", "endpoint", "ignore-project-policy", "explain", "last"]:
        assert word in done.stdout, word
    assert done.stdout.rstrip("\n") == completion_script(build_parser(), shell).rstrip("\n")


@pytest.mark.parametrize("shell", SHELLS)
def test_the_completion_script_is_valid_for_its_shell(shell: str, tmp_path: Path) -> None:
    if shutil.which(CHECK[shell][0]) is None:
        pytest.skip(f"{shell} is not installed here")
    script = tmp_path / f"rempart.{shell}"
    script.write_text(completion_script(build_parser(), shell))
    done = subprocess.run([*CHECK[shell], str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_an_unknown_shell_is_a_usage_error() -> None:
    done = rempart("completion", "powershell")
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_the_man_page_documents_every_command_option_and_exit_code() -> None:
    page = man_page(build_parser())
    assert page.startswith(".TH REMPART")
    for word in [*GROUPS, "\\-\\-endpoint", "\\-\\-ignore\\-project\\-policy", "resume"]:
        assert word in page, word
    assert ".SH EXIT STATUS" in page and ".B 125\nthe sandbox could not run" in page


def test_man_renders_the_page_without_warnings(tmp_path: Path) -> None:
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed here")
    page = tmp_path / "rempart.1"
    page.write_text(rempart("man").stdout)
    done = subprocess.run(
        ["groff", "-man", "-Tutf8", "-ww", str(page)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "sandboxed, on-prem coding agent" in done.stdout
    assert done.stderr == ""
