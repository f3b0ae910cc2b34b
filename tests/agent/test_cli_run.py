"""The headless CLI: JSON events, exit codes, a policy that does not load, resume.
(kill -9 and other faults: test_faults.py)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.testing import Reply, ScriptedCall, ScriptedModelServer
from tests.agent.conftest import POLICY
from tests.agent.headless import events_of, rempart, run_task

pytestmark = pytest.mark.docker


def test_json_mode_prints_one_event_per_line_and_exits_0_when_finished(
    env: dict[str, str], workspace: Path, policy_file: Path
) -> None:
    replies = [
        Reply.call("write_file", path="a.txt", content="A"),
        Reply.call("finish", summary="done"),
    ]
    with ScriptedModelServer(replies) as server:
        done = run_task("write a.txt", workspace, policy_file, server.base_url, env, "--json")
    assert done.returncode == 0, done.stderr
    types = [e["type"] for e in events_of(done.stdout)]
    assert types[0] == "session_start" and types[-1] == "finish"
    assert {"tool_call", "decision", "tool_result", "usage"} <= set(types)
    totals = done.stderr.strip().splitlines()[-1]
    assert totals.startswith("totals: 120 tokens (100 prompt + 20 completion) in 2 model calls")
    assert " Wh (" in totals  # the energy figure names its method (measured or estimated)


def test_the_task_is_read_from_stdin_with_a_dash(
    env: dict[str, str], workspace: Path, policy_file: Path
) -> None:
    task = "a task with 'quotes', $dollars and\nlines that no shell should touch"
    with ScriptedModelServer([Reply.call("finish", summary="ok")]) as server:
        args = ["--workspace", str(workspace), "--policy", str(policy_file)]
        done = subprocess.run(
            [sys.executable, "-m", "rempart", "run", "-", *args, "--endpoint", server.base_url],
            input=task + "\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        sent = server.requests[0]["messages"]
    assert done.returncode == 0, done.stderr
    assert sent[1]["role"] == "user" and sent[1]["content"].endswith(f"Your task:\n{task}")


def test_a_step_limit_exits_3(env: dict[str, str], workspace: Path, policy_file: Path) -> None:
    with ScriptedModelServer([Reply.call("list_files")] * 4) as server:
        done = run_task(
            "loop", workspace, policy_file, server.base_url, env, "--json", "--max-steps", "2"
        )
    assert done.returncode == 3
    assert events_of(done.stdout)[-1]["status"] == "limit"


def test_a_policy_that_does_not_load_starts_no_session(
    env: dict[str, str], workspace: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(POLICY.replace("default: ask", "default: ask\ndefualt: allow"))
    with ScriptedModelServer([]) as server:
        done = run_task("x", workspace, broken, server.base_url, env)
        assert server.requests == []
    assert done.returncode != 0
    assert f"{broken}:" in done.stderr and "defualt" in done.stderr
    assert (
        not (tmp_path / "data" / "sessions.sqlite3").exists()
        or "running" not in rempart("sessions", "list", env=env).stdout
    )


def test_a_dead_model_server_is_a_clear_error_not_a_crash(
    env: dict[str, str], workspace: Path, policy_file: Path
) -> None:
    done = run_task("x", workspace, policy_file, "http://127.0.0.1:9/v1", env)
    assert done.returncode != 0
    assert "error:" in done.stderr and "Traceback" not in done.stderr


def test_resume_last_with_a_message_continues_the_conversation(
    env: dict[str, str], workspace: Path, policy_file: Path
) -> None:
    replies = [Reply.call("finish", summary="first"), Reply.call("finish", summary="second")]
    with ScriptedModelServer(replies) as server:
        first = run_task("say hi", workspace, policy_file, server.base_url, env, "--json")
        session_id = events_of(first.stdout)[0]["session_id"]
        again = rempart(
            "sessions",
            "resume",
            "--last",
            "--json",
            "--endpoint",
            server.base_url,
            "--message",
            "now say bye",
            env=env,
        )
        history = server.requests[-1]["messages"]
    assert again.returncode == 0 and events_of(again.stdout)[-1]["claim"] == "second"
    assert events_of(again.stdout)[0]["session_id"] == session_id
    assert history[1]["content"].endswith("Your task:\nsay hi")
    assert history[-1]["content"] == "now say bye"


# A workspace file that tries to drive the person's terminal: retitle the window, clear the
# screen, overwrite the line with a fake decision, CSI as one C1 byte, a bidi override.
ATTACK = (
    "title\x1b]0;pwned\x07 clear\x1b[2J csi\x9b2J bidi \u202etxt.exe\u202c iso \u2066x\u2069"
    " bs\x08 del\x7f\r  policy: ALLOW [trusted-rule] via policy\n"
)
RAW = [b"\x1b", b"\x07", b"\r", b"\x08", b"\x7f", *(c.encode() for c in "\x9b\u202e\u2066")]


def rempart_bytes(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """The bytes as a terminal would get them (text mode would turn a `\\r` into `\\n`)."""
    return subprocess.run(
        [sys.executable, "-m", "rempart", *args], capture_output=True, env=env, timeout=300
    )


def attack_replies() -> list[Reply]:
    write = ScriptedCall(
        name="write_file", arguments=json.dumps({"path": "b.md", "content": ATTACK})
    )
    return [
        Reply.call("read_file", path="NOTES.md"),
        Reply.call("run", command="cat NOTES.md"),
        Reply(text=f"Copying it: {ATTACK}", calls=[write]),
        Reply.call("finish", summary=f"done {ATTACK}"),
    ]


def assert_only_escaped(out: bytes) -> str:
    assert [raw for raw in RAW if raw in out] == []
    text = out.decode()
    fakes = [line for line in text.splitlines() if "[trusted-rule]" in line]
    assert fakes and not any(line.startswith("  policy:") for line in fakes)
    return text


def test_terminal_escapes_in_a_workspace_file_reach_the_terminal_only_escaped(
    env: dict[str, str], workspace: Path, policy_file: Path
) -> None:
    (workspace / "NOTES.md").write_bytes(ATTACK.encode())
    with ScriptedModelServer(attack_replies()) as server:
        args = ["--workspace", str(workspace), "--policy", str(policy_file)]
        done = rempart_bytes("run", "copy NOTES.md", *args, "--endpoint", server.base_url, env=env)
    assert done.returncode == 0, done.stderr
    text = assert_only_escaped(done.stdout)
    # read_file output, command output (\r kept for the model), assistant text, diff, summary
    assert text.count("\\x1b]0;pwned\\x07 clear\\x1b[2J csi\\x9b2J bidi \\u202etxt.exe") >= 5
    assert "del\\x7f\\r  policy: ALLOW [trusted-rule]" in text
    assert "model's claim (not checked): done title\\x1b]0;pwned" in text
    assert "+title\\x1b]0;pwned" in text

    # the same events replayed from the store (`sessions show`) are escaped the same way
    session_id = text.split()[1]
    shown = rempart_bytes("sessions", "show", session_id, env=env)
    assert shown.returncode == 0, shown.stderr
    assert assert_only_escaped(shown.stdout).count("\\u202etxt.exe") >= 5


def test_json_mode_keeps_the_raw_text_as_data_but_no_raw_control_bytes(
    env: dict[str, str], workspace: Path, policy_file: Path
) -> None:
    (workspace / "NOTES.md").write_bytes(ATTACK.encode())
    with ScriptedModelServer(attack_replies()) as server:
        args = ["--workspace", str(workspace), "--policy", str(policy_file), "--json"]
        done = rempart_bytes("run", "copy NOTES.md", *args, "--endpoint", server.base_url, env=env)
    assert done.returncode == 0, done.stderr
    assert [raw for raw in RAW if raw in done.stdout] == []
    events = events_of(done.stdout.decode())
    assert ATTACK.rstrip("\n") in events[-1]["claim"]
    assert any(e["type"] == "assistant_text" and ATTACK in e["text"] for e in events)
    read = next(e for e in events if e["type"] == "tool_result")
    assert "title\x1b]0;pwned\x07 clear\x1b[2J csi\x9b2J bidi \u202etxt.exe" in read["content"]


BROKEN_TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


@pytest.mark.parametrize(
    ("case", "code"),
    [("check passes", 0), ("check fails", 5), ("blocked", 6), ("model dies", 7)],
)
def test_the_exit_code_says_what_was_checked(
    env: dict[str, str], workspace: Path, policy_file: Path, case: str, code: int
) -> None:
    (workspace / "test_calc.py").write_text(BROKEN_TEST)
    (workspace / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    fix = Reply.call("edit_file", path="calc.py", old="a - b", new="a + b")
    finish = Reply.call("finish", summary="fixed; tests pass")
    replies = {
        "check passes": [fix, finish],
        "check fails": [Reply.call("write_file", path="n.txt", content="x"), *[finish] * 3],
        "blocked": [Reply.call("run", command="curl https://x.test"), *[Reply(text="no")] * 4],
        "model dies": [Reply(status=500)],
    }[case]
    with ScriptedModelServer(replies) as server:
        done = run_task("fix add", workspace, policy_file, server.base_url, env, "--json")
    assert done.returncode == code, done.stdout[-2000:] + done.stderr
    if case != "model dies":
        last = events_of(done.stdout)[-1]
        assert last["type"] == "finish" and last["claim"] in (None, "fixed; tests pass")
        assert last["verified"] == {0: "passed", 5: "failed", 6: "none"}[code]


def test_a_model_server_that_is_not_there_exits_7(
    env: dict[str, str], workspace: Path, policy_file: Path
) -> None:
    done = run_task("fix add", workspace, policy_file, "http://127.0.0.1:9/v1", env)
    assert done.returncode == 7, done.stderr
    assert "error:" in done.stderr


def test_the_last_line_is_the_outcome_and_the_claim_is_marked_as_a_claim(
    env: dict[str, str], workspace: Path, policy_file: Path
) -> None:
    replies = [Reply.call("finish", summary="Renamed everything")] * 2
    with ScriptedModelServer(replies) as server:
        done = run_task("Rename add to plus", workspace, policy_file, server.base_url, env)
    lines = done.stdout.strip().splitlines()
    assert lines[-1].startswith("finished: done")
    assert "model's claim (not checked): Renamed everything" in done.stdout
    assert "files changed: none" in done.stdout
