"""Helpers for tests that drive `rempart` as a person would: a real process, its output."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent.audit_verify import verify_settings
from agent.settings import Settings


def rempart(
    *args: str, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rempart", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def run_task(
    task: str, workspace: Path, policy: Path, url: str, env: dict[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    """`rempart run TASK` on a workspace with one policy file and a model URL."""
    args = ["--workspace", str(workspace), "--policy", str(policy), "--endpoint", url]
    return rempart("run", task, *args, *extra, env=env)


def audit_ok(env: dict[str, str]) -> bool:
    return verify_settings(settings_of(env)).ok


def events_of(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def lines_of(proc: subprocess.Popen[str]) -> Iterator[dict[str, Any]]:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("{"):
            yield json.loads(line)


def settings_of(env: dict[str, str]) -> Settings:
    """The settings a `rempart` process started with `env` uses."""
    return Settings(
        data_dir=Path(env["REMPART_DATA_DIR"]),
        config_dir=Path(env["REMPART_CONFIG_DIR"]),
        org_policy_dir=Path(env["REMPART_ORG_POLICY_DIR"]),
    )


def run_argv(workspace: Path, policy: Path, url: str, *extra: str) -> list[str]:
    """`rempart run` with --json, as a command line for Popen."""
    args = ["--workspace", str(workspace), "--policy", str(policy), "--endpoint", url, "--json"]
    return [sys.executable, "-m", "rempart", "run", "task", *args, *extra]


def start_run(
    workspace: Path,
    policy: Path,
    url: str,
    env: dict[str, str],
    *extra: str,
    stderr: int = subprocess.DEVNULL,
) -> subprocess.Popen[str]:
    """`rempart run --json` as a running process: its events are `lines_of(proc)`."""
    argv = run_argv(workspace, policy, url, *extra)
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
