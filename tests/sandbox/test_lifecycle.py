"""Lifecycle: faults from outside, executor recovery, env isolation, labels, pool, file ops."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from sandbox import ExecutorError, Sandbox, SandboxGone, SandboxRequestError, SandboxSpec
from sandbox.container import list_resources, prune
from sandbox.engine import LABEL_CREATED, LABEL_KIND, LABEL_OWNER_PID, LABEL_SESSION, docker_client

pytestmark = pytest.mark.docker


def test_container_killed_mid_command_raises_sandbox_gone_and_workspace_survives(
    spec: SandboxSpec,
) -> None:
    started = threading.Event()
    outcome: list[BaseException] = []
    with Sandbox(spec) as sb:
        sb.write_file("kept.txt", b"written before the crash")

        def run() -> None:
            try:
                sb.run(
                    "echo started; sleep 60",
                    on_output=lambda stream, text: started.set(),
                    timeout_s=20,
                )
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=run)
        worker.start()
        assert started.wait(timeout=10)
        sb.client.containers.get(sb.container_id).kill()
        worker.join(timeout=20)
        assert len(outcome) == 1
        assert isinstance(outcome[0], SandboxGone)
        with pytest.raises(SandboxGone):
            sb.run("true")
    with Sandbox(spec) as fresh:
        assert fresh.read_file("kept.txt") == b"written before the crash"


def test_a_killed_executor_gets_a_fresh_sandbox_with_a_new_view(spec: SandboxSpec) -> None:
    with Sandbox(spec) as sb:
        first, container = sb.ping(), sb.container_id
        with pytest.raises(ExecutorError):
            sb.run(f"echo unsynced > lost.txt; kill -9 {first}")
        assert sb.run("echo back; ls lost.txt").stdout == "back\n"  # never judged: not kept
        assert sb.container_id != container
        assert sb.replaced == 1


def test_malformed_requests_get_errors_and_the_executor_keeps_running(sb: Sandbox) -> None:
    sb.executor.send_raw(b"this is not json\n[1,2]\n")
    reply = sb.executor.request({"op": "no-such-op"}, timeout=5)
    assert reply["event"] == "error"
    assert reply["code"] == "bad_request"
    reply = sb.executor.request({"op": "run"}, timeout=5)
    assert reply["code"] == "bad_request"
    assert sb.ping() > 0


def test_host_environment_never_reaches_the_sandbox(
    spec: SandboxSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMPART_SECRET_TEST", "x")
    with Sandbox(spec) as sb:
        env = sb.run("env").stdout
    assert "REMPART_SECRET_TEST" not in env


def test_file_tools_round_trip_binary_and_list_with_patterns(sb: Sandbox) -> None:
    blob = bytes(range(256)) * 3
    sb.write_file("data/deep/blob.bin", blob)
    assert sb.read_file("data/deep/blob.bin") == blob
    assert sb.read_file("data/deep/blob.bin", offset=256, limit=4) == bytes([0, 1, 2, 3])
    assert "data/deep/blob.bin" in sb.list_files("data", pattern="*.bin")
    assert sb.list_files("data", recursive=False) == ["data/deep/"]
    assert sb.stat("data/deep/blob.bin").size == len(blob)
    with pytest.raises(SandboxRequestError) as err:
        sb.read_file("missing.txt")
    assert err.value.code == "os_error"


def test_sandboxes_are_labelled_and_prune_removes_only_orphans(sb: Sandbox, image: str) -> None:
    client = docker_client()
    try:
        orphan = client.containers.create(
            image,
            ["true"],
            labels={
                LABEL_KIND: "sandbox",
                LABEL_SESSION: "orphan-test",
                LABEL_OWNER_PID: "999999999",
                LABEL_CREATED: "2020-01-01T00:00:00+00:00",
            },
        )
        found = {r.session: r for r in list_resources(client)}
        assert not found[sb.session].orphan
        assert found["orphan-test"].orphan
        removed = {r.session for r in prune(client, everything=False)}
        assert "orphan-test" in removed
        assert sb.session not in removed
        assert orphan.id not in [
            c.id for c in client.containers.list(all=True, ignore_removed=True)
        ]
        assert sb.is_running()
    finally:
        client.close()


def test_restart_gives_a_fresh_container_with_the_same_workspace(spec: SandboxSpec) -> None:
    with Sandbox(spec) as sb:
        sb.run("echo x > /tmp/scratch; echo y > restart.txt")
        old = sb.container_id
        sb.restart()
        assert sb.container_id != old
        assert sb.run("cat /tmp/scratch").exit_code == 1
        assert sb.read_file("restart.txt") == b"y\n"


def test_workspace_owned_by_the_host_user_is_writable(tmp_path: Path, image: str) -> None:
    ws = tmp_path / "own"
    ws.mkdir()
    os.chown(ws, 1234, 1234)
    with Sandbox(SandboxSpec(workspace=ws, image=image)) as sb:
        assert sb.run("id -u && touch made-here").stdout == "1000\n"
    assert (ws / "made-here").stat().st_uid == 1234  # written by Rempart, as the owner


def test_python_and_pytest_leave_no_caches_in_the_workspace(tmp_path: Path, image: str) -> None:
    ws = tmp_path / "ws"
    (ws / "tests").mkdir(parents=True)
    (ws / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (ws / "tests" / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    )
    with Sandbox(SandboxSpec(workspace=ws, image=image)) as box:
        done = box.run("PYTHONPATH=. python3 -m pytest -q tests")
        assert done.exit_code == 0, done.stdout + done.stderr
    left = sorted(str(p.relative_to(ws)) for p in ws.rglob("*"))
    assert left == ["calc.py", "tests", "tests/test_calc.py"]
