"""The one `rempart` entry point: every command group is there and answers --help."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from rempart.cli import build_parser

GROUPS = [
    "run", "tui", "policy", "sandbox", "model", "sessions", "undo", "audit", "store", "mcp",
    "doctor",
    "config", "bundle", "completion", "man",
]  # fmt: skip


def rempart(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rempart", *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_every_command_group() -> None:
    done = rempart("--help")
    assert done.returncode == 0
    for name in GROUPS:
        assert f"    {name} " in done.stdout


@pytest.mark.parametrize("group", GROUPS)
def test_each_group_answers_help(group: str) -> None:
    assert rempart(group, "--help").returncode == 0


def test_an_unknown_command_is_a_usage_error() -> None:
    done = rempart("frobnicate")
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_the_parser_knows_exactly_the_documented_groups() -> None:
    commands = [
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    ]
    assert len(commands) == 1 and sorted(commands[0].choices) == sorted(GROUPS)
