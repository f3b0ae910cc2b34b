"""The one `rempart` entry point: every command group is there and answers --help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tui.cli import GROUPS

NAMES = [name for name, _, _ in GROUPS]


def rempart(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_every_command_group_and_none_is_a_placeholder() -> None:
    done = rempart("--help")
    assert done.returncode == 0
    for name in ["run", "tui", "policy", "sandbox", "model", "sessions", "audit", "doctor"]:
        assert name in NAMES and f"    {name} " in done.stdout
    assert "not built yet" not in done.stdout


@pytest.mark.parametrize("group", NAMES)
def test_each_group_answers_help(group: str) -> None:
    assert rempart(group, "--help").returncode == 0


def test_an_unknown_command_is_a_usage_error() -> None:
    done = rempart("frobnicate")
    assert done.returncode == 2 and "invalid choice" in done.stderr
