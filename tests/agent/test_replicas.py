"""Model replicas: a session sticks to one replica, and moves to another one that answers
when its own dies, sending the same request again and saying so. Real HTTP servers
(agent.testing), in-process or killed for real as processes."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.airgap import airgap_checks
from agent.errors import ContextOverflow, ModelUnavailable
from agent.events import Event, FinishEvent, NoticeEvent, SessionStarted
from agent.loop import LoopLimits
from agent.messages import Message
from agent.replicas import ReplicatedModelClient, rendezvous
from agent.session import Session, SessionOptions
from agent.settings import Settings
from agent.testing import Reply, ScriptedModelServer

ASK = [Message(role="user", content="hello")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def url_at(port: int) -> str:
    return f"http://127.0.0.1:{port}/v1"


class ServerProcess:
    """`python -m agent.testing SCRIPT` as its own process (so it can be killed -9)."""

    def __init__(self, tmp: Path, name: str, replies: list[Reply], port: int = 0) -> None:
        script = tmp / f"{name}.json"
        script.write_text(json.dumps([r.model_dump() for r in replies]))
        argv = [sys.executable, "-m", "agent.testing", str(script), "--port", str(port)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        assert self.url.startswith("http://"), self.url

    def wait_for_hold(self) -> None:
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "holding"

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def processes() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.kill()


def key_preferring(url: str, urls: list[str]) -> str:
    """A session id whose first-choice replica is `url`."""
    return next(k for k in (f"session-{i}" for i in range(1000)) if rendezvous(k, urls)[0] == url)


def client_for(urls: list[str], moves: list[tuple[str, str, str]]) -> ReplicatedModelClient:
    return ReplicatedModelClient(
        urls,
        "scripted-model",
        "k",
        timeout_s=30.0,
        retries=0,
        on_failover=lambda a, b, why: moves.append((a, b, why)),
    )


def test_each_session_has_a_stable_replica_and_losing_one_moves_only_its_sessions() -> None:
    urls = [f"http://replica-{i}:8000/v1" for i in range(3)]
    keys = [f"s{i}" for i in range(300)]
    first = {k: rendezvous(k, urls)[0] for k in keys}
    assert first == {k: rendezvous(k, list(reversed(urls)))[0] for k in keys}  # order-free
    assert {url: list(first.values()).count(url) > 60 for url in urls} == dict.fromkeys(urls, True)
    without = urls[:2]
    for key in keys:
        if first[key] != urls[2]:
            assert rendezvous(key, without)[0] == first[key]  # untouched by the loss


def test_a_session_binds_to_its_replica_and_skips_one_that_does_not_answer() -> None:
    with ScriptedModelServer([]) as a, ScriptedModelServer([]) as b:
        urls = [a.base_url, b.base_url]
        client = client_for(urls, [])
        try:
            for url in urls:
                assert client.bind(key_preferring(url, urls)) == url
            down = url_at(free_port())
            with_dead = [down, a.base_url]
            assert client_for(with_dead, []).bind(key_preferring(down, with_dead)) == a.base_url
        finally:
            client.close()


def test_a_5xx_moves_the_session_to_the_other_replica_with_the_same_request_and_it_stays() -> None:
    moves: list[tuple[str, str, str]] = []
    with (
        ScriptedModelServer([Reply(status=503, error_message="overloaded")]) as a,
        ScriptedModelServer([Reply(text="from b"), Reply(text="b again")]) as b,
    ):
        urls = [a.base_url, b.base_url]
        client = client_for(urls, moves)
        try:
            client.bind(key_preferring(a.base_url, urls))
            assert client.complete(ASK, [], "none").text == "from b"
            assert client.complete(ASK, [], "none").text == "b again"  # affinity: stays on b
        finally:
            client.close()
        assert len(a.requests) == 1 and len(b.requests) == 2
        assert b.requests[0]["messages"] == a.requests[0]["messages"]
    [(failed, now, why)] = moves
    assert (failed, now) == (a.base_url, b.base_url) and "HTTP 503" in why
    assert client.base_url == b.base_url and a.base_url in client.dead


def test_a_search_request_for_several_answers_fails_over_like_a_turn() -> None:
    moves: list[tuple[str, str, str]] = []
    with (
        ScriptedModelServer([Reply(status=503, error_message="overloaded")]) as a,
        ScriptedModelServer([Reply(text="one"), Reply(text="two")]) as b,
    ):
        urls = [a.base_url, b.base_url]
        client = client_for(urls, moves)
        try:
            client.bind(key_preferring(a.base_url, urls))
            assert client.samples(ASK, 2, 0.8, 100).texts == ["one", "two"]
        finally:
            client.close()
        assert b.requests[0]["n"] == 2 and b.requests[0]["messages"] == a.requests[0]["messages"]
    assert [(m[0], m[1]) for m in moves] == [(a.base_url, b.base_url)]


def test_a_refused_request_is_not_sent_to_another_replica() -> None:
    too_long = Reply(status=400, error_message="maximum context length is 8192 tokens")
    moves: list[tuple[str, str, str]] = []
    with ScriptedModelServer([too_long]) as a, ScriptedModelServer([Reply(text="no")]) as b:
        urls = [a.base_url, b.base_url]
        client = client_for(urls, moves)
        try:
            client.bind(key_preferring(a.base_url, urls))
            with pytest.raises(ContextOverflow):
                client.complete(ASK, [], "none")
        finally:
            client.close()
        assert b.requests == [] and moves == []


def test_with_every_replica_down_the_request_fails_as_model_unavailable(
    processes: list[ServerProcess], tmp_path: Path
) -> None:
    processes.append(ServerProcess(tmp_path, "a", []))
    processes.append(ServerProcess(tmp_path, "b", []))
    urls = [p.url for p in processes]
    client = client_for(urls, [])
    try:
        for p in processes:
            p.kill()
        with pytest.raises(ModelUnavailable, match="failed"):
            client.complete(ASK, [], "none")
    finally:
        client.close()


def test_a_replica_killed_mid_stream_is_left_and_the_turn_is_answered_by_the_other_once(
    processes: list[ServerProcess], tmp_path: Path
) -> None:
    held = Reply(text="never finished", hold_mid_stream=True)
    processes.append(ServerProcess(tmp_path, "a", [Reply(text="first turn"), held]))
    processes.append(ServerProcess(tmp_path, "b", [Reply(text="second turn, on b")]))
    a, b = processes
    urls = [a.url, b.url]
    moves: list[tuple[str, str, str]] = []
    client = client_for(urls, moves)
    shown: list[str] = []
    try:
        client.bind(key_preferring(a.url, urls))
        assert client.complete(ASK, [], "none", on_text=shown.append).text == "first turn"

        def kill_when_held() -> None:
            a.wait_for_hold()
            a.kill()

        killer = threading.Thread(target=kill_when_held)
        killer.start()
        turn = client.complete(ASK, [], "none", on_text=shown.append)
        killer.join(timeout=30)
    finally:
        client.close()
    assert turn.text == "second turn, on b"
    assert "".join(shown) == "first turnsecond turn, on b"  # nothing shown twice
    [(failed, now, _why)] = moves
    assert (failed, now) == (a.url, b.url)


@pytest.mark.docker
def test_a_session_whose_replica_dies_mid_turn_finishes_on_the_other_and_says_so(
    processes: list[ServerProcess],
    tmp_path: Path,
    workspace: Path,
    policy_file: Path,
    make_settings: Callable[..., Settings],
) -> None:
    # the first replica serves turn 1, then dies in the middle of turn 2; the second only
    # starts then (its port is reserved), so whichever one the session's id prefers, the
    # session begins on the first
    first = ServerProcess(
        tmp_path,
        "first",
        [
            Reply.call("write_file", path="notes.txt", content="written on the first\n"),
            Reply(text="thinking", hold_mid_stream=True),
        ],
    )
    processes.append(first)
    port = free_port()
    second_url = url_at(port)
    settings = make_settings(model_urls=[first.url, second_url])

    def fail_first() -> None:
        first.wait_for_hold()
        processes.append(
            ServerProcess(tmp_path, "second", [Reply.call("finish", summary="done")], port)
        )
        first.kill()

    killer = threading.Thread(target=fail_first)
    killer.start()
    events: list[Event] = []
    options = SessionOptions(
        task="write notes.txt",
        workspace=workspace,
        policy_files=[policy_file],
        limits=LoopLimits(max_steps=6),
    )
    try:
        with Session(settings, options, [events.append]) as session:
            finish = session.run()
    finally:
        killer.join(timeout=60)
    [started] = [e for e in events if isinstance(e, SessionStarted)]
    assert started.base_url == first.url
    moved = [e.text for e in events if isinstance(e, NoticeEvent) and "replica" in e.text]
    [text] = moved
    assert text.startswith(f"model replica {first.url} failed (")
    assert text.endswith(f"); the session continues on {second_url}")
    assert isinstance(finish, FinishEvent) and finish.status == "finished", finish
    assert (workspace / "notes.txt").read_text() == "written on the first\n"


def test_airgap_doctor_checks_every_replica_and_fails_on_one_on_another_host(
    tmp_path: Path,
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        config_dir=tmp_path / "config",
        model_urls=["http://127.0.0.1:8000/v1", "http://gpu-2.corp.example:8000/v1"],
    )
    checks = [c for c in airgap_checks(settings, {}) if c.name == "airgap: model endpoint"]
    assert [(c.ok, c.detail.split()[0]) for c in checks] == [
        (True, "http://127.0.0.1:8000/v1"),
        (False, "http://gpu-2.corp.example:8000/v1"),
    ]
