"""The project's check run once before the model's first turn, and what it tells.

A small model given "the tests fail, fix the bug" reads the code and guesses (bench: it
added `# Fix the bug here` to the right function, four times). The failing test's own
output (which assertion, which values) is the clue it lacks, so with the aids on the
session runs the check first, through the policy in the sandbox like any command, and
opens the conversation with its result. A check that only runs a program (`python3
main.py`) is run first only when that program already exists; its output then is the
"before" that a task asking for the same output after the change is compared with
(`ProjectCheck.expect_output`: a difference fails the check; equality proves only that,
so it is never reported as a passed test).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

from agent.events import CheckRecord
from agent.projectcheck import ProjectCheck
from agent.tools.focus import focus

SHOWN = 1500  # characters of the check's output in the opening message
SAME_OUTPUT = re.compile(
    r"\b(same output|prints? the same|print(?:s|ed)? exactly what it printed|"
    r"what it printed before|output (?:must|should) (?:stay|remain|be) (?:the same|unchanged)|"
    r"(?:output|prints?) (?:is |are )?unchanged)",
    re.IGNORECASE,
)


def asks_same_output(task: str) -> bool:
    """Whether the task says the program's output must not change."""
    return bool(SAME_OUTPUT.search(task))


def worth_running(check: ProjectCheck, exists: Callable[[str], bool]) -> bool:
    """A test check always; a run check only when a file its command names exists now."""
    if check.kind == "test":
        return True
    try:
        words = shlex.split(check.command)
    except ValueError:
        return False
    return any(("." in w or "/" in w) and not w.startswith("-") and exists(w) for w in words[1:])


def opening(record: CheckRecord, same_output: bool) -> str:
    """What the model is told before its first turn (empty when the check did not run)."""
    if record.exit_code is None:
        return ""
    tail = record.output_tail[-SHOWN:].strip() or "(no output)"
    if record.kind == "run":
        text = (
            f"Before any change, `{record.command}` exited {record.exit_code} and printed:\n{tail}"
        )
        if same_output:
            text += "\nAfter your change it must print exactly this (Rempart compares)."
        return text
    if record.exit_code == 0:
        return f"Before any change, the project's check `{record.command}` passes."
    where = focus(record.output_tail)
    return (
        f"Before any change, the project's check `{record.command}` FAILS (exit "
        f"{record.exit_code}); your change must make it pass. Its output ends with:\n{tail}"
        + (f"\n{where}" if where else "")
    )
