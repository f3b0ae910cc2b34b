"""The exit-code table of README.md and docs/cli.md is true: each code, driven for real.

The table itself is `policies.exitcodes.Exit`. The codes that come from how a session ends
with a check (0 passed, 5 check failed, 6 blocked by policy, 7 model gone mid-session) are
driven in tests/agent/test_cli_run.py::test_the_exit_code_says_what_was_checked.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.audit import AuditLog
from agent.testing import Reply, ScriptedModelServer
from policies.exitcodes import MEANING, Exit
from policies.shipped import examples_dir
from tests.agent.conftest import POLICY

REMPART = [sys.executable, "-m", "rempart"]
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def rempart(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REMPART, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "REMPART_MODEL_RETRIES": "0", **(env or {})},
    )


def run_args(workspace: Path, policy: Path, url: str, *extra: str) -> list[str]:
    return ["run", "t", *where(workspace, policy), "--endpoint", url, *extra]


def where(workspace: Path, policy: Path) -> list[str]:
    return ["--workspace", str(workspace), "--policy", str(policy)]


def test_every_code_has_a_meaning_and_the_readme_shows_the_table() -> None:
    assert {code.name: int(code) for code in Exit} == {
        "OK": 0, "FAILED": 1, "USAGE": 2, "LIMIT": 3, "STOPPED": 4, "CHECK_FAILED": 5,
        "BLOCKED": 6, "MODEL_UNREACHABLE": 7, "ERROR": 8, "SANDBOX": 125,
        "CANNOT_INVOKE": 126, "NOT_FOUND": 127, "INTERRUPTED": 130,
    }  # fmt: skip
    readme = Path(__file__).resolve().parents[2] / "README.md"
    if readme.exists():  # the source tree (not the installed wheel): the README says the same
        text = readme.read_text()
        for code in Exit:
            assert f"| {int(code)} |" in text, code
    assert set(MEANING) == set(Exit)


@pytest.mark.smoke
def test_0_success_and_1_a_check_that_says_no(tmp_path: Path) -> None:
    assert rempart("policy", "check", str(examples_dir() / "default.yaml")).returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ndefault: no\n")
    assert rempart("policy", "check", str(bad)).returncode == Exit.FAILED
    log, key, head = tmp_path / "audit.jsonl", tmp_path / "audit.key", tmp_path / "audit.head"
    AuditLog(log, key, head).append("s", "session", note="one")
    AuditLog(log, key, head).append("s", "session", note="two")
    verify = ["audit", "verify", "--log", str(log), "--key", str(key), "--anchor", str(head)]
    assert rempart(*verify).returncode == Exit.OK
    log.write_text(log.read_text().replace("two", "TWO"))
    assert rempart(*verify).returncode == Exit.FAILED


@pytest.mark.smoke
def test_2_usage_errors() -> None:
    assert rempart("run").returncode == Exit.USAGE
    assert rempart("policy", "check", "--frobnicate", "x").returncode == Exit.USAGE
    misplaced = rempart("--workspace", ".", "doctor")
    assert misplaced.returncode == Exit.USAGE and "after the command" in misplaced.stderr


@pytest.mark.smoke
def test_7_the_model_server_does_not_answer_also_with_json(
    workspace: Path, policy_file: Path
) -> None:
    dead = "http://127.0.0.1:9/v1"
    text = rempart(*run_args(workspace, policy_file, dead))
    assert text.returncode == Exit.MODEL_UNREACHABLE, text.stderr
    assert "error:" in text.stderr and "Traceback" not in text.stderr
    as_json = rempart(*run_args(workspace, policy_file, dead, "--json"))
    assert as_json.returncode == Exit.MODEL_UNREACHABLE
    assert json.loads(as_json.stdout.splitlines()[-1])["type"] == "error"


@pytest.mark.smoke
def test_8_a_problem_for_a_person_to_fix(workspace: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(POLICY.replace("default: ask", "default: ask\ndefualt: allow"))
    done = rempart(*run_args(workspace, broken, "http://127.0.0.1:9/v1"))
    assert done.returncode == Exit.ERROR and f"{broken}:" in done.stderr
    as_json = rempart(*run_args(workspace, broken, "http://127.0.0.1:9/v1", "--json"))
    assert as_json.returncode == Exit.ERROR  # not 1, which means "the task failed"
    assert rempart("sessions", "resume", "no-such-session").returncode == Exit.ERROR
    assert rempart("run", "-", "--workspace", str(workspace), stdin="\n").returncode == Exit.ERROR


@pytest.mark.smoke
def test_125_the_sandbox_cannot_run(workspace: Path, policy_file: Path) -> None:
    probe = rempart("sandbox", "exec", *where(workspace, policy_file), "--", "true", env=NO_ENGINE)
    assert probe.returncode == Exit.SANDBOX and "Docker engine" in probe.stderr
    with ScriptedModelServer([]) as server:
        done = rempart(*run_args(workspace, policy_file, server.base_url), env=NO_ENGINE)
    assert done.returncode == Exit.SANDBOX, done.stderr


@pytest.mark.smoke
def test_130_interrupted() -> None:
    with subprocess.Popen(
        [*REMPART, "policy", "eval", "--policy", "default"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write('{"kind":"fs.read","path":"a"}\n')
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["decision"] == "allow"  # reading stdin now
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == Exit.INTERRUPTED


@pytest.mark.docker
def test_0_finished_and_3_a_limit(workspace: Path, policy_file: Path, image: str) -> None:
    env = {"REMPART_SANDBOX_IMAGE": image, "REMPART_TOOL_CALL_MODE": "required"}
    with ScriptedModelServer([Reply.call("finish", summary="done")]) as server:
        assert (
            rempart(*run_args(workspace, policy_file, server.base_url), env=env).returncode
            == Exit.OK
        )
    with ScriptedModelServer([Reply.call("list_files")] * 3) as server:
        limited = rempart(
            *run_args(workspace, policy_file, server.base_url, "--max-steps", "2"), env=env
        )
    assert limited.returncode == Exit.LIMIT


def _events(proc: subprocess.Popen[str]) -> Iterator[dict[str, Any]]:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("{"):
            yield json.loads(line)


@pytest.mark.docker
def test_4_stopped_by_sigterm(workspace: Path, policy_file: Path, image: str) -> None:
    env = {**os.environ, "REMPART_SANDBOX_IMAGE": image, "REMPART_TOOL_CALL_MODE": "required"}
    env["REMPART_MODEL_RETRIES"] = "0"
    replies = [Reply.call("run", command="sleep 5"), Reply.call("list_files")]
    with ScriptedModelServer(replies) as server:
        argv = [*REMPART, *run_args(workspace, policy_file, server.base_url, "--json")]
        with subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        ) as proc:
            for event in _events(proc):
                if event["type"] == "tool_call":
                    proc.send_signal(signal.SIGTERM)
                if event["type"] == "finish":
                    assert event["status"] == "stopped"
            assert proc.wait(timeout=120) == Exit.STOPPED


@pytest.mark.docker
@pytest.mark.parametrize(
    ("command", "code"), [(["/etc/passwd"], Exit.CANNOT_INVOKE), (["no-such-tool"], Exit.NOT_FOUND)]
)
def test_126_and_127_from_sandbox_exec_like_docker_run(
    workspace: Path, policy_file: Path, image: str, command: list[str], code: Exit
) -> None:
    done = rempart(
        "sandbox",
        "exec",
        "--workspace",
        str(workspace),
        "--policy",
        str(policy_file),
        "--",
        *command,
    )
    assert done.returncode == code, done.stderr
