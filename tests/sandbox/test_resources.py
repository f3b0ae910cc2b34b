"""Bad input and faults: each contained, reported clearly, and the executor survives."""

from __future__ import annotations

import signal

import pytest

from sandbox import Sandbox
from tests.sandbox.conftest import RUNTIMES

# every limit holds under runc and under gVisor (`sandbox.runtime`)
pytestmark = [
    pytest.mark.docker,
    pytest.mark.parametrize("runtime", RUNTIMES, indirect=True, scope="module"),
]


OOM_COUNT = (
    "import sys; sys.path.insert(0, '/opt/rempart'); import executor; "
    "print(executor._oom_kills(tuple(sys.argv[1:]) or executor.OOM_COUNTERS))"
)


def test_oom_kills_are_counted_from_cgroup_v2_and_v1_files_alike(sb: Sandbox, runtime: str) -> None:
    if runtime == "gvisor":
        pytest.skip("gVisor shows no cgroup files; its memory limit: test_gvisor.py (memory hog)")
    # this host may have either: each format is read by the executor inside a container
    setup = (
        "printf 'low 0\\nhigh 0\\nmax 4\\noom 3\\noom_kill 3\\n' > /tmp/v2; "
        "printf 'oom_kill_disable 0\\nunder_oom 0\\noom_kill 5\\n' > /tmp/v1"
    )
    assert sb.run(setup).exit_code == 0
    counts = [
        sb.run(["python3", "-c", OOM_COUNT, *files]).stdout.strip()
        for files in (["/tmp/v2"], ["/tmp/v1"], ["/tmp/none", "/tmp/v1"], ["/tmp/none"])
    ]
    assert counts == ["3", "5", "5", "-1"]
    assert int(sb.run(["python3", "-c", OOM_COUNT]).stdout) >= 0  # this host's real file


def test_fork_bomb_is_contained_by_the_pids_limit_and_the_executor_survives(sb: Sandbox) -> None:
    sb.run(":(){ :|:& };:", timeout_s=5)
    result = sb.run("for i in $(seq 200); do sleep 30 & done; wait", timeout_s=5)
    assert "Resource temporarily unavailable" in result.stderr
    assert sb.run("echo alive").stdout == "alive\n"
    assert sb.run("ps -e --no-headers | wc -l").stdout.strip() in {"4", "5", "6"}


def test_memory_hog_is_oom_killed_with_a_clear_result(sb: Sandbox, runtime: str) -> None:
    if runtime == "gvisor":
        pytest.skip(
            "gVisor: the host, not the sandbox, meets the limit: test_gvisor.py (memory hog)"
        )
    result = sb.run(["python3", "-c", "x = b'x' * (1 << 30)"])
    assert result.signal == signal.SIGKILL
    assert result.exit_code == 128 + signal.SIGKILL
    assert result.oom_killed
    assert "out of memory" in result.stderr
    assert sb.ping() > 0


def test_filling_tmp_stops_at_its_size_cap(sb: Sandbox) -> None:
    result = sb.run("dd if=/dev/zero of=/tmp/fill bs=1M count=64; rm -f /tmp/fill")
    assert "No space left on device" in result.stderr


def test_endless_output_is_truncated_keeping_head_and_tail(sb: Sandbox) -> None:
    result = sb.run("seq 1 3000000", output_cap=10_000)
    assert result.exit_code == 0
    assert result.truncated
    assert result.stdout.startswith("1\n2\n3\n")
    assert result.stdout.endswith("2999999\n3000000\n")
    assert "bytes truncated" in result.stdout
    assert len(result.stdout) < 10_100


def test_a_flood_of_output_is_killed_before_the_timeout_with_a_clear_note(sb: Sandbox) -> None:
    result = sb.run("yes", timeout_s=120, output_cap=1000)
    assert result.output_limit and not result.timed_out
    assert result.truncated and "more than" in result.stderr and "bytes of output" in result.stderr


def test_output_that_never_ends_is_stopped_by_the_timeout(sb: Sandbox) -> None:
    line = "yes" * 40  # a few lines a second are past the cap, even where forks are slow
    result = sb.run(f"while true; do echo {line}; sleep 0.001; done", timeout_s=1, output_cap=100)
    assert result.timed_out and not result.output_limit
    assert result.truncated
    assert result.signal == signal.SIGTERM


def test_background_processes_do_not_outlive_the_command(sb: Sandbox) -> None:
    started = sb.run("sleep 1000 & setsid sleep 1001 & nohup sleep 1002 >/dev/null 2>&1 & echo ok")
    assert started.stdout == "ok\n"
    assert started.duration_ms < 5000
    assert "sleep 10" not in sb.run("ps -eo args").stdout


def test_command_reading_stdin_forever_ends_because_stdin_is_closed(sb: Sandbox) -> None:
    result = sb.run("cat; echo done")
    assert result.stdout == "done\n"
    assert not result.timed_out


def test_stdin_is_passed_when_given(sb: Sandbox) -> None:
    assert sb.run("tr a-z A-Z", stdin="hello").stdout == "HELLO"


def test_command_over_its_timeout_is_killed_with_its_process_group(sb: Sandbox) -> None:
    result = sb.run("sleep 30 & sleep 31", timeout_s=1)
    assert result.timed_out
    assert result.duration_ms < 5000
    assert "sleep 3" not in sb.run("ps -eo args").stdout


def test_exit_code_and_stderr_are_reported(sb: Sandbox) -> None:
    result = sb.run("echo out; echo err >&2; exit 3")
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")


def test_missing_program_reports_127(sb: Sandbox) -> None:
    result = sb.run(["no-such-program"])
    assert result.exit_code == 127
    assert "No such file or directory" in result.stderr
