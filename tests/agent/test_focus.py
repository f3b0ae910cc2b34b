"""A failure's output is pointed at the project file and line closest to the error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.testing import FakeSandbox
from agent.tools.base import ToolContext
from agent.tools.focus import focus
from agent.tools.run import run

TRACEBACK = """Traceback (most recent call last):
  File "/workspace/server.py", line 30, in <module>
    main()
  File "/workspace/server.py", line 7, in main
    PORT = os.getenv('APP_PORT', 8080)
           ^^
NameError: name 'os' is not defined
"""


def test_a_traceback_points_at_the_last_project_frame_and_the_error() -> None:
    assert (
        focus(TRACEBACK) == "where to look: server.py line 7 (NameError: name 'os' is not defined)"
    )


def test_frames_outside_the_project_are_skipped() -> None:
    out = TRACEBACK.replace(
        "NameError", '  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads\nNameError'
    )
    assert focus(out).startswith("where to look: server.py line 7 ")


def test_output_that_names_no_project_file_gives_nothing() -> None:
    assert focus("Segmentation fault\n") == ""
    assert focus('  File "/usr/lib/python3.11/x.py", line 3\nValueError: x\n') == ""


def _pytest(tmp_path: Path, code: str, test: str) -> str:
    (tmp_path / "calc.py").write_text(code)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_calc.py").write_text(test)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1
    return done.stdout


def test_real_pytest_output_points_at_the_code_under_test_when_it_raised(tmp_path: Path) -> None:
    out = _pytest(
        tmp_path,
        "def median(xs):\n    xs = sorted(xs)\n    return xs[len(xs)]\n",
        "from calc import median\n\n\ndef test_median():\n    assert median([3, 1, 2]) == 2\n",
    )
    assert focus(out) == "where to look: calc.py line 3 (IndexError: list index out of range)"


def test_real_pytest_assertion_points_at_the_test_line_and_the_assertion(tmp_path: Path) -> None:
    out = _pytest(
        tmp_path,
        "def add(a, b):\n    return a - b\n",
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    )
    where = focus(out)
    assert where.startswith("where to look: tests/test_calc.py line 5 (assert")
    assert "== 5" in where


def test_a_failed_run_carries_the_pointer_and_a_passing_one_does_not() -> None:
    failing = FakeSandbox.result(1, stderr=TRACEBACK)
    fake = FakeSandbox(commands={"python3 server.py": failing, "true": FakeSandbox.result(0)})
    out = run(ToolContext(sandbox=fake), "python3 server.py")
    assert out.content.endswith(
        "where to look: server.py line 7 (NameError: name 'os' is not defined)"
    )
    assert "where to look" not in run(ToolContext(sandbox=fake), "true").content
    assert (
        "where to look"
        not in run(ToolContext(sandbox=fake, aids=False), "python3 server.py").content
    )
