"""`rempart sandbox exec --json` probes the walls the policy implies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import policies

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(not hasattr(policies, "PolicySet"), reason="policies.PolicySet not landed"),
]

_EXEC = [sys.executable, "-m", "rempart", "sandbox", "exec"]
POLICY = """\
version: 1
name: t
default: ask
files:
  read: {allow: ["**"], deny: [".env", "**/*.pem"]}
  write: {allow: ["**"], deny: [".git/**"]}
network:
  allow: []
limits: {cpus: 1, memory: 512m, pids: 128, timeout_s: 30, output_bytes: 100000}
"""


def _exec(ws: Path, *cmd: str, policy: str = POLICY) -> dict[str, Any]:
    pol = ws.parent / "policy.yaml"
    pol.write_text(policy)
    argv = [sys.executable, "-m", "rempart", "sandbox", "exec", "--workspace", str(ws)]
    done = subprocess.run(
        [*argv, "--policy", str(pol), "--json", "--", *cmd],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture
def ws(tmp_path: Path, image: str) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    (ws / ".env").write_text("TOKEN=secret\n")
    (ws / "key.pem").write_text("PRIVATE\n")
    (ws / "ok.txt").write_text("fine\n")
    for p in [ws, *ws.rglob("*")]:
        os.chown(p, 1000, 1000)
    return ws


def test_exec_json_prints_one_object_with_the_result(ws: Path) -> None:
    out = _exec(ws, "cat", "ok.txt")
    assert out["exit_code"] == 0
    assert out["stdout"] == "fine\n"
    assert {"stderr", "duration_ms", "timed_out", "truncated"} <= out.keys()


def test_exec_hides_what_the_policy_denies_for_reading(ws: Path) -> None:
    out = _exec(ws, "cat .env key.pem; python3 -c \"open('.env').read()\"")
    assert "secret" not in out["stdout"] and "PRIVATE" not in out["stdout"]
    assert out["stderr"].count("No such file or directory") >= 2
    assert {".env", "key.pem"} <= set(out["hidden"])


def test_exec_reports_a_write_denied_change_and_keeps_the_host_file(ws: Path) -> None:
    before = (ws / ".git" / "config").read_bytes()
    out = _exec(ws, "echo x >> .git/config")
    assert out["exit_code"] == 0
    refused = [o for o in out["changes"]["outcomes"] if not o["applied"]]
    assert [o["path"] for o in refused] == [".git/config"]
    assert "[write refused: modified .git/config" in out["stderr"]
    assert (ws / ".git" / "config").read_bytes() == before


def test_exec_has_no_network_without_an_allowlist(ws: Path) -> None:
    code = "import socket\ns=socket.socket()\ns.settimeout(3)\ns.connect(('1.1.1.1',53))"
    out = _exec(ws, "python3", "-c", code)
    assert "Network is unreachable" in out["stderr"]


def test_exec_without_json_passes_the_exit_code_through(ws: Path) -> None:
    pol = ws.parent / "policy.yaml"
    pol.write_text(POLICY)
    done = subprocess.run(
        [*_EXEC, "--workspace", str(ws), "--policy", str(pol), "--", "echo hi; exit 7"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout) == (7, "hi\n")


def test_filling_tmp_under_a_small_memory_limit_is_enospc_not_an_oom_of_the_executor(
    ws: Path,
) -> None:
    small = POLICY.replace("memory: 512m", "memory: 256m")
    out = _exec(
        ws, "dd if=/dev/zero of=/tmp/fill bs=1M count=400; df -m /tmp | tail -1", policy=small
    )
    assert "No space left on device" in out["stderr"]
    assert not out.get("oom_killed")
    size_mb = int(out["stdout"].split()[1])
    assert size_mb <= 64


def test_a_root_owned_workspace_is_writable_by_the_non_root_sandbox_user(
    tmp_path: Path, image: str
) -> None:
    ws = tmp_path / "rootws"
    ws.mkdir()
    (ws / ".env").write_text("TOKEN=secret\n")
    (ws / "a.txt").write_text("a\n")
    out = _exec(ws, "id -u; echo b > b.txt; echo more >> a.txt; cat .env")
    assert out["stdout"].splitlines()[0] != "0"
    assert (ws / "b.txt").read_text() == "b\n" and (ws / "a.txt").read_text() == "a\nmore\n"
    assert "secret" not in out["stdout"] and "No such file or directory" in out["stderr"]
    assert all(p.stat().st_uid == 0 for p in ws.iterdir())  # new files belong to the owner
