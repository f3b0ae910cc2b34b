"""A Python program run with arguments it never reads is told so in the run's result
(real sandbox, scripted model)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.testing import FakeSandbox, Reply
from agent.tools.ignored_args import ignored_arguments
from tests.agent.conftest import Run

STDIN_READER = "import sys\nprint(len(sys.stdin.read().split()))\n"
ARGV_READER = "import sys\nprint(len(open(sys.argv[1]).read().split()))\n"


@pytest.mark.docker
def test_a_script_reading_stdin_run_with_a_file_argument_is_told_it_ignored_it(
    run_session: Callable[..., Run], workspace: Path
) -> None:
    """Seen in create_wordfreq: `(no output)`, then finish, twice."""
    (workspace / "count.py").write_text(STDIN_READER)
    run = run_session(
        [
            Reply.call("run", command="python3 count.py calc.py > out.txt"),
            Reply.call("read_file", path="count.py"),
            Reply.call("write_file", path="count.py", content=ARGV_READER),
            Reply.call("run", command="python3 count.py calc.py"),
            Reply.call("finish", summary="counted"),
        ],
        task="count the words of calc.py",
    )
    first, _, _, second = run.results()[:4]
    assert "count.py never reads its command-line arguments" in first.content
    assert "`calc.py` was ignored" in first.content  # the redirection is not an argument
    assert "never reads" not in second.content


def test_a_script_reading_argv_by_position_run_with_an_option_is_told_each_position() -> None:
    """config_cli_limit: `int(sys.argv[2]) if sys.argv[2].isdigit() else 10`, 10 lines out."""
    script = "import sys\nLIMIT = int(sys.argv[2]) if sys.argv[2].isdigit() else 10\n"
    told = ignored_arguments(FakeSandbox({"top.py": script}), "python3 top.py app.log --limit 3")
    assert "sys.argv[1] is 'app.log', sys.argv[2] is '--limit', sys.argv[3] is '3'" in told
    assert "argparse" in told
    parsed = "import argparse, sys\nsys.argv[1]\n"
    assert ignored_arguments(FakeSandbox({"top.py": parsed}), "python3 top.py a --limit 3") == ""
    plain = ignored_arguments(FakeSandbox({"top.py": script}), "python3 top.py app.log 3")
    assert plain == ""  # no option: positions are what the script expects


@pytest.mark.parametrize(
    ("command", "files"),
    [
        ("python3 count.py", {"count.py": STDIN_READER}),  # no argument to ignore
        ("python3 count.py a.txt", {"count.py": ARGV_READER}),  # reads sys.argv
        ("python3 count.py a.txt", {"count.py": "import argparse\nimport sys\nsys.stdin"}),
        ("python3 count.py a.txt", {"count.py": "print(1)\n"}),  # reads neither
        ("python3 missing.py a.txt", {}),  # no such script
        ("python3 -m pytest -q tests", {}),  # not a script
        ("bash run.sh a.txt", {"run.sh": "cat"}),
        ("python3 'unbalanced", {}),
    ],
)
def test_nothing_is_said_when_the_arguments_are_read_or_there_are_none(
    command: str, files: dict[str, str]
) -> None:
    assert ignored_arguments(FakeSandbox(files), command) == ""
