"""Faults, for real: Rempart killed mid-call, the sandbox container killed mid-command, the
model server killed mid-stream, the Docker engine restarted, the data dir full, an
OOM-killed command. After each: nothing half-written, nothing left running, the audit log
verifies, and the session can be resumed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from agent.approval import ApprovalAnswer, ApprovalRequest
from agent.audit_verify import verify_settings
from agent.events import ErrorEvent, ToolResultEvent
from agent.settings import Settings
from agent.testing import Reply, ScriptedModelServer
from sandbox.container import list_resources
from sandbox.engine import LABEL_KIND, docker_client
from tests.agent.conftest import POLICY, Run
from tests.agent.headless import audit_ok, events_of, lines_of, rempart, start_run
from tests.agent.private_engine import EngineUnavailable, PrivateEngine
from tests.containers import alive, host_pids, owned_by, poll, top

pytestmark = pytest.mark.docker

BIG = "".join(f"line {i:06d} of a file that must never be half-written\n" for i in range(4000))


def temporaries(workspace: Path) -> list[str]:
    return [str(p) for p in workspace.rglob("*.rempart-*.tmp")]


@pytest.fixture
def client() -> Iterator[docker.DockerClient]:
    c = docker_client()
    yield c
    c.close()


def running(client: docker.DockerClient, owner: int, needle: str) -> Callable[[], bool]:
    """Is `needle` in the process list of a sandbox `owner` started?"""

    def check() -> bool:
        return any(
            needle in row
            for c in owned_by(client, owner)
            if c.labels.get(LABEL_KIND) == "sandbox"
            for row in top(c)
        )

    return check


# 1. kill -9 of Rempart mid-tool-call ------------------------------------------------------
def test_kill_9_mid_call_leaves_nothing_running_nothing_half_written_and_resume_continues(
    env: dict[str, str], workspace: Path, policy_file: Path, client: docker.DockerClient
) -> None:
    replies = [
        Reply.call("write_file", path="big.txt", content=BIG),
        Reply.call("run", command="sleep 120 & sleep 121"),
        Reply.call("read_file", path="big.txt", end_line=2),
        Reply.call("finish", summary="resumed and finished"),
    ]
    with ScriptedModelServer(replies) as server:
        seen: list[dict[str, Any]] = []
        with start_run(workspace, policy_file, server.base_url, env) as proc:
            try:
                for event in lines_of(proc):
                    seen.append(event)
                    if event["type"] == "tool_call" and event["tool"] == "run":
                        break
                assert poll(running(client, proc.pid, "sleep 121"), 60)
                pids = [pid for c in owned_by(client, proc.pid) for pid in host_pids(c)]
            finally:
                proc.kill()
            killed = time.monotonic()
        assert proc.returncode == -9
        # within 10 s, no process of that session is alive (the command inside included)
        assert poll(lambda: not any(alive(pid) for pid in pids), 10.0, 0.05)
        took = time.monotonic() - killed
        print(f"all {len(pids)} processes of the session ended {took:.2f} s after kill -9")
        assert (workspace / "big.txt").read_text() == BIG and temporaries(workspace) == []
        assert audit_ok(env)
        session_id = seen[0]["session_id"]
        resumed = rempart(
            "sessions", "resume", session_id, "--json", "--endpoint", server.base_url, env=env
        )
        assert resumed.returncode == 0, resumed.stderr
        history = server.requests[-2]["messages"]
    assert any(m["role"] == "tool" and "interrupted" in m["content"] for m in history)
    results = [e for e in events_of(resumed.stdout) if e["type"] == "tool_result"]
    assert "line 000000" in results[0]["content"]
    assert audit_ok(env)
    # the resumed session's start pruned what the killed one left: zero orphans
    assert [r for r in list_resources(client) if r.owner_pid == proc.pid] == []


# 2. the sandbox container killed mid-command -------------------------------------------
def test_the_container_killed_mid_command_is_a_clear_error_and_the_session_goes_on(
    env: dict[str, str], workspace: Path, policy_file: Path, client: docker.DockerClient
) -> None:
    replies = [
        Reply.call("write_file", path="kept.txt", content="kept\n"),
        Reply.call("run", command="sleep 60"),
        Reply.call("read_file", path="kept.txt"),
        Reply.call("finish", summary="went on"),
        Reply.call("run", command="cat kept.txt"),
        Reply.call("finish", summary="resumed"),
    ]
    with ScriptedModelServer(replies) as server:
        with start_run(workspace, policy_file, server.base_url, env) as proc:
            events, killed = [], False
            try:
                for event in lines_of(proc):
                    events.append(event)
                    if event["type"] == "tool_call" and event["tool"] == "run" and not killed:
                        assert poll(running(client, proc.pid, "sleep 60"), 60)
                        for container in owned_by(client, proc.pid):
                            container.kill()
                        killed = True
            finally:
                proc.wait(timeout=120)
        assert proc.returncode == 0
        results = [e for e in events if e["type"] == "tool_result"]
        assert results[1]["is_error"] and "the sandbox stopped" in results[1]["content"]
        assert "workspace files are intact" in results[1]["content"]
        assert "kept" in results[2]["content"] and not results[2]["is_error"]
        resumed = rempart(
            "sessions", "resume", events[0]["session_id"], "--json", "--endpoint",
            server.base_url, "--message", "check again", env=env,
        )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    again = [e for e in events_of(resumed.stdout) if e["type"] == "tool_result"]
    assert "kept" in again[0]["content"]
    assert audit_ok(env)


# 3. the model server killed mid-stream -----------------------------------------------------
class ModelServerProcess:
    """`python -m agent.testing SCRIPT` as its own process, killable for real."""

    def __init__(self, tmp: Path, replies: list[Reply], name: str) -> None:
        script = tmp / f"{name}.json"
        script.write_text(json.dumps([r.model_dump() for r in replies]))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent.testing", str(script)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        self.holding = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:  # read to the end: the process's death closes it
            for line in self.proc.stdout:
                if line.strip() == "holding":
                    self.holding.set()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def test_the_model_server_killed_mid_stream_is_retried_then_a_clear_error_and_resume_goes_on(
    env: dict[str, str], workspace: Path, policy_file: Path, tmp_path: Path
) -> None:
    first = ModelServerProcess(
        tmp_path,
        [
            Reply.call("write_file", path="a.txt", content="before the model died\n"),
            Reply(text="Let me think about that", hold_mid_stream=True),
        ],
        "first",
    )
    retries = {**env, "REMPART_MODEL_RETRIES": "2"}
    try:
        with start_run(workspace, policy_file, first.base_url, retries) as proc:
            assert first.holding.wait(120), "the second request never came"
            first.kill()
            killed = time.monotonic()
            events = list(lines_of(proc))
            proc.wait(timeout=60)
        took = time.monotonic() - killed
    finally:
        first.kill()
    errors = [e for e in events if e["type"] == "error"]
    assert errors and "failed (after 3 attempts)" in errors[0]["message"]
    assert "sessions resume" in errors[0]["hint"]
    assert events[-1]["type"] == "finish" and events[-1]["status"] == "failed"
    assert proc.returncode != 0 and 1.0 < took < 60  # backed off, and bounded
    assert audit_ok(retries)
    second = ModelServerProcess(
        tmp_path,
        [Reply.call("read_file", path="a.txt"), Reply.call("finish", summary="done")],
        "second",
    )
    try:
        resumed = rempart(
            "sessions", "resume", events[0]["session_id"], "--json", "--endpoint", second.base_url,
            env=retries,
        )  # fmt: skip
    finally:
        second.kill()
    assert resumed.returncode == 0, resumed.stderr
    results = [e for e in events_of(resumed.stdout) if e["type"] == "tool_result"]
    assert "before the model died" in results[0]["content"]
    assert audit_ok(retries)


@pytest.mark.parametrize("cut_by", ["sigterm", "time limit"])
def test_a_model_turn_that_never_ends_is_cut_by_sigterm_or_the_time_limit(
    cut_by: str, env: dict[str, str], workspace: Path, policy_file: Path, tmp_path: Path
) -> None:
    """A model that streams a few words and then nothing (a long prompt on a busy CPU, a
    hung server): SIGTERM stops the session at once, and --max-seconds ends it on time,
    both with the session recorded and its exit code, never minutes later."""
    server = ModelServerProcess(
        tmp_path,
        [
            Reply.call("write_file", path="a.txt", content="written before the hang\n"),
            Reply(text="Let me think", hold_mid_stream=True),
        ],
        "hung",
    )
    limit = ["--max-seconds", "25"] if cut_by == "time limit" else []
    try:
        with start_run(workspace, policy_file, server.base_url, env, *limit) as proc:
            assert server.holding.wait(120), "the second request never came"
            if cut_by == "sigterm":
                proc.terminate()
            events = list(lines_of(proc))
            proc.wait(timeout=60)  # the server holds for ever: only the cut ends this
    finally:
        server.kill()
    final = events[-1]
    assert final["type"] == "finish", events[-3:]
    if cut_by == "sigterm":
        assert final["status"] == "stopped" and proc.returncode == 4
    else:
        assert final["status"] == "limit" and "time limit (25 s)" in final["summary"]
        assert proc.returncode == 3
    assert (workspace / "a.txt").read_text() == "written before the hang\n"
    assert audit_ok(env)


def test_a_stream_cut_once_is_retried_and_the_session_goes_on(
    run_session: Callable[..., Run],
) -> None:
    run = run_session(
        [
            Reply(text="half an answer", die_mid_stream=True),
            Reply.call("finish", summary="after one retry"),
        ],
        overrides={"model_retries": 1},
    )
    assert run.finish.status == "finished" and run.finish.claim == "after one retry"
    assert len(run.server.requests) == 2


# 4. the Docker engine restarted during a session ------------------------------------------
@pytest.fixture(scope="module")
def private_engine(image: str) -> Iterator[PrivateEngine]:
    if os.geteuid() != 0:
        pytest.skip("a second dockerd needs root")
    try:
        with PrivateEngine() as engine:
            engine.load(image)
            yield engine
    except EngineUnavailable as exc:
        pytest.skip(f"no private Docker engine here: {exc}")


def test_the_docker_engine_restarted_mid_command_is_survived(
    env: dict[str, str], workspace: Path, policy_file: Path, private_engine: PrivateEngine
) -> None:
    replies = [
        Reply.call("write_file", path="kept.txt", content="kept\n"),
        Reply.call("run", command="sleep 25"),
        Reply.call("run", command="cat kept.txt"),
        Reply.call("finish", summary="survived"),
    ]
    engine_env = {**env, "DOCKER_HOST": private_engine.host}
    with (
        ScriptedModelServer(replies) as server,
        start_run(
            workspace, policy_file, server.base_url, engine_env, stderr=subprocess.PIPE
        ) as proc,
    ):
        events, restarted = [], False
        engine = private_engine.client()
        try:
            for event in lines_of(proc):
                events.append(event)
                if event["type"] == "tool_call" and event["tool"] == "run" and not restarted:
                    assert poll(running(engine, proc.pid, "sleep 25"), 60)
                    engine.close()
                    private_engine.restart()
                    restarted = True
        finally:
            proc.wait(timeout=300)
            stderr = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == 0, stderr
    results = [e for e in events if e["type"] == "tool_result"]
    assert results[1]["is_error"] and "a new one is ready" in results[1]["content"]
    assert "kept" in results[2]["content"] and not results[2]["is_error"]
    assert (workspace / "kept.txt").read_text() == "kept\n"
    assert audit_ok(env)
    after = private_engine.client()
    try:
        left = [r for r in list_resources(after) if r.owner_pid == proc.pid]
    finally:
        after.close()
    assert [r for r in left if r.status == "running"] == []


# 5. the data dir full ---------------------------------------------------------------------
@pytest.fixture
def small_data_dir(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "small-data"
    data.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(data)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs as the data dir: {mounted.stderr.strip()}")
    try:
        yield data
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)


def fill(folder: Path) -> Path:
    """Write until the filesystem is full; returns the filler (delete it to free space)."""
    filler = folder / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


class FillingApprover:
    """Fills the data dir at the moment it is asked, then approves."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.filler: Path | None = None

    def ask(self, request: ApprovalRequest) -> ApprovalAnswer:
        self.filler = fill(self.data)
        return ApprovalAnswer(choice="once", approver="test")


def test_with_the_data_dir_full_nothing_unrecorded_happens_and_resume_goes_on(
    run_session: Callable[..., Run], workspace: Path, small_data_dir: Path
) -> None:
    approver = FillingApprover(small_data_dir)
    ask_writes = POLICY.replace('write: {allow: ["**"]', 'write: {ask: ["big.txt"], allow: ["**"]')
    run = run_session(
        [Reply.call("write_file", path="big.txt", content=BIG), Reply.call("finish", summary="x")],
        approver=approver,
        overrides={"data_dir": small_data_dir},
        policy_text=ask_writes,
    )
    assert approver.filler is not None
    assert run.finish.status == "failed"
    said = " ".join(e.message for e in run.events if isinstance(e, ErrorEvent))
    print(f"data dir full: {said}")
    assert "No space left on device" in said or "disk is full" in said
    # the write either never ran (its record could not be written) or was refused (its
    # checkpoint could not be written): the workspace never got it, not even half of it
    assert not (workspace / "big.txt").exists() and temporaries(workspace) == []
    approver.filler.unlink()
    assert verify_settings(run.settings).ok
    again = run_session(
        [
            Reply.call("write_file", path="small.txt", content="ok\n"),
            Reply.call("finish", summary="y"),
        ],
        resume_id=run.session_id,
        overrides={"data_dir": small_data_dir},
        policy_text=POLICY,
    )
    assert again.finish.status == "finished" and (workspace / "small.txt").read_text() == "ok\n"
    assert verify_settings(run.settings).ok


class SwappingApprover:
    """Makes the audit log unwritable (a folder in its place) at the moment it is asked."""

    def __init__(self, settings: Callable[[], Settings]) -> None:
        self.settings = settings
        self.saved: Path | None = None

    def ask(self, request: ApprovalRequest) -> ApprovalAnswer:
        log = self.settings().audit_log
        self.saved = log.with_name("audit.saved")
        log.rename(self.saved)
        log.mkdir()
        return ApprovalAnswer(choice="once", approver="test")


def test_an_action_whose_record_cannot_be_written_is_not_executed(
    run_session: Callable[..., Run], workspace: Path, make_settings: Callable[..., Settings]
) -> None:
    approver = SwappingApprover(make_settings)
    ask_writes = POLICY.replace('write: {allow: ["**"]', 'write: {ask: ["new.txt"], allow: ["**"]')
    run = run_session(
        [
            Reply.call("write_file", path="new.txt", content="x\n"),
            Reply.call("finish", summary="x"),
        ],
        approver=approver,
        policy_text=ask_writes,
    )
    assert run.finish.status == "failed" and "cannot write the audit record" in run.finish.summary
    assert not (workspace / "new.txt").exists()
    assert not [e for e in run.events if isinstance(e, ToolResultEvent)]
    assert approver.saved is not None
    run.settings.audit_log.rmdir()
    approver.saved.rename(run.settings.audit_log)
    assert verify_settings(run.settings).ok


# 6. an OOM-killed command ----------------------------------------------------------------
def test_an_oom_killed_command_is_reported_to_the_model_as_such(
    run_session: Callable[..., Run],
) -> None:
    small = POLICY.replace("memory: 1g", "memory: 256m")
    run = run_session(
        [
            Reply.call("write_file", path="hog.py", content="b = bytearray(2 << 30)\n"),
            Reply.call("run", command="python3 hog.py"),
            Reply.call("finish", summary="it ran out of memory"),
        ],
        policy_text=small,
    )
    result = run.results()[1]
    assert result.exit_code == 137 and result.is_error
    assert "killed: out of memory" in result.content
    assert "out of memory" in run.server.requests[2]["messages"][-1]["content"]
    assert verify_settings(run.settings).ok
