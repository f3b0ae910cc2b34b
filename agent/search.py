"""Check-guided search: when the project's tests still fail after the model's own tries,
ask the model for the whole corrected file several times at once and let the tests choose.

The 1.5B model repairs a small file better in one answer than through a chain of edits
(bench fix_median: its edits never made `median` both sort and average the two middle
values; asked for the whole file with the failing output, two answers in six passed). So,
once `finish` has been refused for a failing test check as often as it may be
(`agent.finishing.MAX_CHECK_REFUSALS`), the finish is not yet final: up to `ROUNDS` rounds,
each one request for `SAMPLES` answers (vLLM computes the shared prompt once), each answer
that parses written through the policy and the sandbox like any `write_file`, and the check
run on it, through the policy, like any command. The first answer that passes the check
stays; a round with none starts the next from the answer that passed the most tests. With no
answer passing, the file is written back as the session left it and the check run again, so
that the final event reports the check on what is really there. Every read, write and check
is an event and an audit record; the search never touches a test file.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from agent.context import CHARS_PER_TOKEN
from agent.events import CheckRecord
from agent.finishing import ran
from agent.messages import Message
from agent.tools.lint import lost_names
from agent.tools.syntax_guard import parsed
from policies.errors import RempartError

SAMPLES = 5
ROUNDS = 3
TEMPERATURE = 0.8
ROUND_SECONDS = 90.0  # a round is started only with this much of the time limit left
MAX_FILE_CHARS = 8000  # a longer file is not rewritten whole
MAX_NOTE_CHARS = 3000  # a document the task names, shown with the file (FORMATS.md)
MAX_NOTES = 2
OUTPUT_CHARS = 1500  # the end of the check's output shown
NAMED = re.compile(r"[\w./-]+\.[A-Za-z]{1,5}\b")
TRACEBACK = re.compile(r'(?:File "(?:/workspace/)?([\w./-]+\.py)", line|^([\w./-]+\.py):\d+)', re.M)
FENCE = re.compile(r"```[\w+-]*[^\n]*\n(.*?)```", re.S)
COUNTS = re.compile(r"(\d+) (passed|failed|errors?)\b")
NOTE_SUFFIXES = (".md", ".txt", ".rst")
TEST_DIRS = ("test", "tests", "testing", "spec", "specs")
TEST_TEXT = re.compile(r"^\s*(import (pytest|unittest)\b|from (pytest|unittest)\b|def test_)", re.M)
SYSTEM = "You are an expert programmer. You correct code so that its tests pass."


@dataclass
class SearchHooks:
    """What the search may do, each through the session's policy, sandbox and audit."""

    sample: Callable[[list[Message], int, float, int], list[str]]  # messages, n, temp, max
    read: Callable[[str], str | None]  # a file's whole text (None: refused, missing, long)
    write: Callable[[str, str], bool]  # whether the write was made
    check: Callable[[], CheckRecord]  # the project's check, run now
    notice: Callable[[str], object]
    time_left: Callable[[], float]
    go_on: Callable[[], bool]  # no stop asked for, tokens left
    window_tokens: int = 8192


def is_test(path: str, text: str = "") -> bool:
    """A test file, by its place or name, or by what it holds (pytest, unittest, test_
    functions): the search never rewrites one."""
    parts = PurePosixPath(path).parts
    name = parts[-1] if parts else path
    in_tests = any(part in TEST_DIRS for part in parts[:-1])
    named = name.startswith("test") or name.endswith(("_test.py", "_tests.py"))
    return in_tests or named or name == "conftest.py" or bool(TEST_TEXT.search(text))


def score(record: CheckRecord) -> tuple[int, int]:
    """Passing first, then how many tests passed less how many failed, an error (a test that
    could not even run) counted twice, from the last line with pytest's counts (a runner that
    prints none: 0); a check that did not run is below every one that did."""
    if not ran(record):
        return (-1, 0)
    lines = [line for line in record.output_tail.splitlines() if COUNTS.search(line)]
    counts = {kind.rstrip("s"): int(n) for n, kind in COUNTS.findall(lines[-1] if lines else "")}
    tally = counts.get("passed", 0) - counts.get("failed", 0) - 2 * counts.get("error", 0)
    return (1 if record.passed else 0, tally)


def targets(task: str, changed: list[str], output: str) -> list[str]:
    """The code files the search may rewrite, likeliest first: named by the task and changed
    by the session, named by the task, changed, named in the failure's traceback."""
    named = [m for m in NAMED.findall(task) if m.endswith(".py")]
    traced = [a or b for a, b in TRACEBACK.findall(output)]
    ordered = [p for p in named if p in changed] + named + changed + traced
    seen: list[str] = []
    for path in ordered:
        path = path.removeprefix("./")
        hidden = path.startswith("/") or any(  # outside the workspace, or not the project's
            p.startswith(".") or p == "site-packages" for p in path.split("/")
        )
        if path.endswith(".py") and not hidden and not is_test(path) and path not in seen:
            seen.append(path)
    return seen


def code_of(answer: str) -> str | None:
    """The longest fenced block of an answer (None: no block)."""
    blocks = FENCE.findall(answer)
    if not blocks:
        return None
    text: str = max(blocks, key=len)
    return text if text.endswith("\n") else text + "\n"


def _prompt(task: str, notes: dict[str, str], path: str, text: str, record: CheckRecord) -> str:
    parts = [f"Task:\n{task.strip()}"]
    parts += [f"File {name}:\n```\n{body.rstrip()}\n```" for name, body in notes.items()]
    parts.append(f"File {path}:\n```python\n{text.rstrip()}\n```")
    tail = record.output_tail.strip()[-OUTPUT_CHARS:]
    parts.append(
        f"The check `{record.command}` fails (exit code {record.exit_code}):\n```\n{tail}\n```"
    )
    parts.append(
        f"Answer with the complete corrected content of {path} in one ```python code block. "
        "Do not change the tests."
    )
    return "\n\n".join(parts)


class Search:
    def __init__(self, task: str, hooks: SearchHooks) -> None:
        self.task, self.hooks = task, hooks

    def run(self, record: CheckRecord, changed: list[str]) -> CheckRecord:
        """The check's record on what the workspace holds after the search."""
        hooks = self.hooks
        for path in targets(self.task, changed, record.output_tail):
            if path in record.command:  # the script the check runs is the test
                continue
            text = hooks.read(path)
            if text is None or len(text) > MAX_FILE_CHARS or is_test(path, text):
                continue
            return self._search(path, text, record)
        hooks.notice("search: no code file to rewrite whole (named by the task or changed)")
        return record

    def _notes(self) -> dict[str, str]:
        """The documents the task names, shown with the file (a format, a spec)."""
        notes: dict[str, str] = {}
        for name in NAMED.findall(self.task):
            if name.endswith(NOTE_SUFFIXES) and name not in notes and len(notes) < MAX_NOTES:
                body = self.hooks.read(name)
                if body is not None and len(body) <= MAX_NOTE_CHARS:
                    notes[name] = body
        return notes

    def _answers(self, prompt: str, base: str) -> list[str] | None:
        hooks = self.hooks
        reply = int(len(base) / CHARS_PER_TOKEN * 1.5) + 300
        room = hooks.window_tokens - int(len(prompt) / CHARS_PER_TOKEN) - 300
        messages = [Message(role="system", content=SYSTEM), Message(role="user", content=prompt)]
        try:
            return hooks.sample(messages, SAMPLES, TEMPERATURE, max(256, min(reply, room)))
        except RempartError as exc:
            hooks.notice(f"search: the model did not answer ({exc})")
            return None

    def _search(self, path: str, original: str, record: CheckRecord) -> CheckRecord:
        hooks, notes = self.hooks, self._notes()
        best, best_text, on_disk = record, original, original
        tried: set[str] = {original}
        for round_no in range(1, ROUNDS + 1):
            if hooks.time_left() < ROUND_SECONDS or not hooks.go_on():
                hooks.notice(f"search: stopped before round {round_no} (time, tokens or a stop)")
                break
            answers = self._answers(_prompt(self.task, notes, path, best_text, best), best_text)
            if answers is None:
                break
            made = 0
            texts, left = _candidates(answers, path, original, tried)
            for text in texts:
                if not hooks.go_on():
                    break
                if not hooks.write(path, text):
                    hooks.notice(f"search: the write to {path} was not made; search stopped")
                    return self._restore(path, original, on_disk, best_text, record)
                on_disk, made = text, made + 1
                result = hooks.check()
                if result.passed:
                    hooks.notice(f"search: round {round_no}, answer {made}: the check passed")
                    return result
                if score(result) > score(best):
                    best, best_text = result, text
            hooks.notice(
                f"search: round {round_no}: {len(answers)} answers, {made} tried"
                + (f" (left: {left})" if left else "")
                + ", none passed the check"
            )
        return self._restore(path, original, on_disk, best_text, record)

    def _restore(
        self, path: str, original: str, on_disk: str, best: str, record: CheckRecord
    ) -> CheckRecord:
        """The file as the session left it, and the check run on it again (an honest last
        record); nothing to do when no answer was written. An original the write guard
        will not put back (it does not parse) leaves the answer that passed the most tests,
        said in a notice; the final event's diff and check are of what is there."""
        hooks = self.hooks
        if on_disk == original:
            return record
        if not hooks.write(path, original):
            if best != on_disk and hooks.write(path, best):
                on_disk = best
            hooks.notice(
                f"search: {path} could not be written back as the session left it; it holds "
                "the search's answer that passed the most tests"
                if on_disk == best and best != original
                else f"search: {path} could not be written back; it holds the last answer tried"
            )
        return hooks.check()


def _candidates(
    answers: list[str], path: str, original: str, tried: set[str]
) -> tuple[list[str], str]:
    """The answers worth a write: a code block, new, parsing (.py), keeping every top-level
    function and class of the file (an answer that drops untested code could still pass);
    and why the others were left, for the notice."""
    found: list[str] = []
    left: Counter[str] = Counter()
    for answer in answers:
        text = code_of(answer)
        if text is None:
            left["no code block"] += 1
        elif text in tried:
            left["tried before"] += 1
        elif path.endswith(".py") and parsed(text) is None:
            left["does not parse"] += 1
        elif path.endswith(".py") and lost_names(path, original, text):
            left["drops a function or class"] += 1
        else:
            found.append(text)
        if text is not None:
            tried.add(text)
    return found, ", ".join(f"{n} {why}" for why, n in left.items())
