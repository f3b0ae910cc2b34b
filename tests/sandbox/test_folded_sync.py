"""The change set rides in the `run` (and `write`) reply: one round trip per command, and
every change is still judged on the host before anything reaches it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from policies import PolicySet
from sandbox import Sandbox
from sandbox.errors import SandboxRequestError
from tests.sandbox.conftest import RUNTIMES, SandboxFactory

pytestmark = pytest.mark.docker
BOTH_RUNTIMES = pytest.mark.parametrize("runtime", RUNTIMES, indirect=True)
DENIED = "src/test_a.py"
ORIGINAL = "def test_a():\n    assert 1\n"


def policy() -> PolicySet:
    text = (
        "version: 1\nname: folded\ndefault: allow\n"
        "files:\n  read: {allow: ['**'], deny: []}\n"
        "  write: {allow: ['**'], deny: ['**/test_*.py']}\n"
        "limits: {memory: 256m, timeout_s: 20}\n"
    )
    return PolicySet.from_texts([("org", "folded.yaml", text)])


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / DENIED).write_text(ORIGINAL)
    return root


def round_trips(box: Sandbox) -> int:
    return box.executor.requests


def test_a_command_or_a_file_write_that_changes_small_files_costs_one_round_trip(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    with make_sandbox(ws, image, policy=policy()) as box:
        trips = []
        for step in (
            lambda: box.run(["/bin/true"]),
            lambda: box.run("echo one > a.txt && mkdir -p d && printf 'two' > d/b.bin"),
            lambda: box.write_file("d/c.txt", b"three\n"),
        ):
            before = round_trips(box)
            step()
            trips.append(round_trips(box) - before)
    assert trips == [1, 1, 1]
    assert (ws / "a.txt").read_text() == "one\n" and (ws / "d/b.bin").read_bytes() == b"two"
    assert (ws / "d/c.txt").read_text() == "three\n"


def test_files_past_the_folded_contents_cap_are_read_in_more_round_trips(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    big = "head -c 700000 /dev/urandom > big1 && cp big1 big2 && head -c 3000000 /dev/zero > big3"
    with make_sandbox(ws, image, policy=policy()) as box:
        result = box.run(big)
        copy = box.read_file("big1")
    assert {o.path for o in result.changes.applied} == {"big1", "big2", "big3"}
    assert (ws / "big1").read_bytes() == copy == (ws / "big2").read_bytes()
    assert (ws / "big3").read_bytes() == bytes(3_000_000)


def test_a_denied_write_never_reaches_the_host_with_the_folded_reply(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    with make_sandbox(ws, image, policy=policy()) as box:
        result = box.run(f"echo HACKED > {DENIED} && echo ok > src/ok.py")
        assert {o.path for o in result.changes.refused} == {DENIED}
        assert "write refused" in result.stderr
        assert box.run(f"cat {DENIED}").stdout == ORIGINAL  # put back in the sandbox too
        assert (ws / DENIED).read_text() == ORIGINAL
        assert (ws / "src/ok.py").read_text() == "ok\n"


def test_a_denied_file_write_is_refused_with_the_folded_reply(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    with make_sandbox(ws, image, policy=policy()) as box:
        with pytest.raises(SandboxRequestError, match="write refused"):
            box.write_file("src/test_b.py", b"HACKED\n")
        assert box.run("ls src").stdout.split() == ["test_a.py"]
        report = box.write_file("src/b.py", b"B = 1\n")
    assert [o.path for o in report.applied] == ["src/b.py"]
    assert not (ws / "src/test_b.py").exists()
    assert (ws / "src/b.py").read_text() == "B = 1\n"


# What the command left running writes first, then the command returns; the sweep kills
# the writer, and the change set folded into the same reply still holds (and judges) it.
@pytest.mark.parametrize(
    "left_running",
    [
        f"setsid sh -c 'echo HACKED > {DENIED}; echo late > late.txt; exec sleep 30' &",
        # variant: a double fork that leaves its session and writes through a new symlink
        "python3 -c 'import os,time\nif os.fork()==0:\n os.setsid()\n if os.fork()==0:\n"
        '  os.symlink("test_a.py","src/alias.txt"); open("src/alias.txt","w").write("HACKED")\n'
        '  open("late.txt","w").write("late\\n"); time.sleep(30)\' &',
    ],
)
@BOTH_RUNTIMES
def test_a_change_by_a_process_left_running_is_judged_after_the_sweep(
    ws: Path, image: str, make_sandbox: SandboxFactory, left_running: str
) -> None:
    wait = "for i in $(seq 1000); do [ -s late.txt ] && break; sleep 0.01; done"
    with make_sandbox(ws, image, policy=policy()) as box:
        result = box.run(f"{left_running}\n{wait}")
        assert DENIED in {o.path for o in result.changes.refused}
        assert "late.txt" in {o.path for o in result.changes.applied}
        assert "sleep" not in box.run("ps -eo args --no-headers").stdout
        assert box.run(f"cat {DENIED}").stdout == ORIGINAL
    assert (ws / DENIED).read_text() == ORIGINAL
    assert (ws / "late.txt").read_text() == "late\n"


def test_a_run_without_sync_leaves_the_change_set_to_the_changes_op(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    """What an older host sends: no `sync`, no change set in the reply, `changes` after."""
    with make_sandbox(ws, image, policy=policy()) as box:
        op = {"op": "run", "shell": "echo x > new.txt", "cwd": ".", "env": {}}
        reply = box.executor.request(op, 30.0)
        assert reply["event"] == "exit" and "sync" not in reply
        changes = box.executor.request({"op": "changes"}, 30.0)["changes"]
        assert [(c["path"], c["change"]) for c in changes] == [("new.txt", "created")]
        assert box.executor.request({"op": "changes"}, 30.0)["changes"] == []


@BOTH_RUNTIMES
def test_commands_run_concurrently_and_stream_to_their_own_callers(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    """A busy worker never delays another command: the first waits for the second's file."""
    waiting = "echo waiting; for i in $(seq 2000); do [ -e go ] && break; sleep 0.01; done"
    events: dict[str, list[str]] = {"first": [], "second": []}
    replies: dict[str, dict[str, object]] = {}
    started = threading.Event()
    with make_sandbox(ws, image, policy=policy()) as box:

        def run(name: str, shell: str) -> None:
            op = {"op": "run", "shell": shell, "cwd": ".", "env": {}, "stream": True}

            def sink(event: dict[str, object]) -> None:
                events[name].append(str(event["data"]))
                started.set()

            replies[name] = box.executor.request(op, 60.0, sink)

        first = threading.Thread(target=run, args=("first", waiting))
        first.start()
        assert started.wait(timeout=60.0)  # the first command runs (and waits) now
        run("second", "touch go; echo second")
        first.join(timeout=60.0)
        assert not first.is_alive()
        for _ in range(3):  # the kept workers serve the next commands
            assert box.run(["/bin/echo", "again"]).stdout == "again\n"
    assert replies["first"]["stdout"] == "waiting\n" and replies["first"]["exit_code"] == 0
    assert replies["second"]["stdout"] == "second\n"
    assert "".join(events["first"]) == "waiting\n" and "".join(events["second"]) == "second\n"
