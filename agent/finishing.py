"""When `finish` may end a session, and what the final event says.

On `finish`, the project's check (`agent.projectcheck`) runs in the sandbox through the
policy like any command. A failing check refuses the finish, with its output sent back to
the model, at most `MAX_CHECK_REFUSALS` times, then the check-guided search (`agent.search`)
has its one try; a finish with no file changed on a task that
asks for a change is questioned once, and so is one that leaves a name the task asks for
missing (`agent.taskterms`), one that leaves code the session's changes broke (undefined
names, syntax errors: `agent.tools.lint`), one whose run check printed nothing when the task
expects output, and, with no check known, one after changes that nothing ran since. The final
event's summary is built from evidence (`agent.evidence`): files changed, commands and exit
codes, the check's result. The model's own words are kept as its claim.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from agent.events import CheckRecord, FinishEvent, Outcome, Verified
from agent.evidence import Evidence
from agent.messages import ToolCallRequest
from agent.projectcheck import ProjectCheck
from agent.taskterms import NO_FILE, Exists, Files, question, terms_of, unmet
from agent.tools.focus import focus
from policies.errors import RempartError

MAX_CHECK_REFUSALS = 2
CHANGE_WORDS = re.compile(
    r"\b(add|change|convert|create|edit|fix|implement|make|modify|move|refactor|remove|"
    r"rename|replace|update|write|delete|configure|support)\b",
    re.IGNORECASE,
)
PRINT_WORDS = re.compile(r"\b(print|prints|printed|output|outputs|shows?|display)\b", re.I)
NOT_RUN = (126, 127)
CODE_SUFFIXES = (".py", ".sh", ".js", ".ts", ".go", ".rs", ".rb", ".java", ".c", ".cc", ".cpp")
UNRUN_QUESTION = (
    "finish questioned: you changed {files} but ran nothing since, and no check is known for "
    "this project. Try the changed code now: write a short script (e.g. try_it.py with "
    "`from MODULE import FUNCTION` and `print(FUNCTION(EXAMPLE))`, an example from the task), "
    "run it with `python3 try_it.py`, and compare what it prints with what the task expects; "
    "then call finish again."
)  # not `python3 -c`: the default policy refuses code given on the command line (spec_roman)
BROKEN_QUESTION = (
    "finish questioned: your changes left code that fails when it runs:\n{found}\nFix each "
    "line named (for an undefined name: define it or import it), then call finish again."
)

Status = Literal["finished", "failed", "limit", "stopped"]
RunCheck = Callable[[ToolCallRequest, ProjectCheck, int], CheckRecord]


def ran(record: CheckRecord) -> bool:
    """Whether the check's command ran at all (not refused, found and runnable)."""
    return record.exit_code is not None and record.exit_code not in NOT_RUN


def asks_for_change(task: str) -> bool:
    return bool(CHANGE_WORDS.search(task))


class Finisher:
    """Reviews `finish` calls; builds the final event."""

    def __init__(
        self,
        task: str,
        check: ProjectCheck | None,
        run_check: RunCheck,
        evidence: Evidence,
        aids: bool = True,
        files: Files | None = None,
        exists: Exists | None = None,
        broken: Callable[[], list[str]] | None = None,
    ) -> None:
        self.check, self.run_check, self.evidence, self.aids = check, run_check, evidence, aids
        self.task = task
        self.files = files  # the workspace's texts, for the task's named terms
        self.exists = exists  # whether a file is there, for the files the task asks for
        self.broken = broken  # what the session's changes left failing (agent.tools.lint)
        self.broken_questioned = False
        self.terms = terms_of(task)
        self.terms_questioned = False
        self.wants_change = asks_for_change(task)
        self.refusals = 0
        self.questioned = False
        self.expects_output = bool(PRINT_WORDS.search(task))
        self.silence_questioned = False
        self.unrun_questioned = False
        self.last: CheckRecord | None = None
        # the check-guided search (agent.search), set by the loop that can ask the model
        self.search: Callable[[CheckRecord, list[str]], CheckRecord] | None = None
        self.searched = False
        self.search_passed = False
        self.attempts = 0

    def review(self, call: ToolCallRequest, last_exit_code: int | None) -> str | None:
        """None when the finish stands; else the answer that sends the model back to work."""
        if self.aids and self.wants_change and not self.evidence.changed and not self.questioned:
            self.questioned = True
            return (
                "finish refused: no file in the workspace has changed, but the task asks for "
                "a change. Do the work with write_file/edit_file/run first. If nothing needs "
                "to change, call finish again and say why."
            )
        if self.aids and self.files is not None and not self.terms_questioned:
            self.terms_questioned = True
            asked = question(self.terms, self.files, self.exists)
            if asked:
                return asked
        if self.aids and self.broken is not None and not self.broken_questioned:
            self.broken_questioned = True
            if found := self.broken():
                listed = "\n".join("  " + item.replace("\n", "\n  ") for item in found[:8])
                return BROKEN_QUESTION.format(found=listed)
        if self.check is None:
            if self._unrun():
                self.unrun_questioned = True
                changed = sorted(p for p in self.evidence.changed if p.endswith(CODE_SUFFIXES))
                return UNRUN_QUESTION.format(files=", ".join(changed))
            if self.aids and last_exit_code not in (None, 0) and not self.questioned:
                self.questioned = True
                return (
                    f"The last command failed (exit code {last_exit_code}). Fix it and check "
                    "again; if the failure is expected, call finish again and say why."
                )
            return None
        record = self._run(call)
        if self._silent(record):
            self.silence_questioned = True
            return (
                f"finish questioned: `{record.command}` ran but printed nothing, and the task "
                "expects output. Make sure the program reads the input the task gives it (a "
                "file named on its command line is in sys.argv, not on stdin) and prints its "
                "result; run it to see. If printing nothing is right, call finish again."
            )
        if self._passed(record) or not ran(record):
            return None
        if not self.aids:
            return None
        if self.refusals >= MAX_CHECK_REFUSALS:
            self._search(record)
            return None
        self.refusals += 1
        if record.output_differs:
            before = (self.check.expect_output or "").strip()[-1200:]
            return (
                f"finish refused: the task says the output must stay the same, but "
                f"`{record.command}` now prints:\n{record.output_tail.strip()[-1200:]}\n"
                f"Before the change it printed:\n{before}\n"
                "Find what your change broke, fix it, then call finish again."
            )
        where = focus(record.output_tail)
        return (
            f"finish refused: the project's check `{record.command}` ({record.source}) "
            f"failed with exit code {record.exit_code}. Its output ends with:\n"
            f"{record.output_tail}\n" + (f"{where}\n" if where else "") + "Read the failure, "
            "fix the code (do not edit the tests), then call finish again."
        )

    def _search(self, record: CheckRecord) -> None:
        """The last chance of a finish whose tests still fail: the check-guided search
        (`agent.search`), once; its own check runs set `last`."""
        if self.search is None or self.searched or record.kind != "test":
            return
        if record.output_differs:
            return
        self.searched = True
        self.search(record, sorted(self.evidence.changed))
        last = self.last
        if last is None or not ran(last):
            self.last = record  # the check on the state written back did not run
        self.search_passed = self._passed(self.last)

    def search_due(self) -> bool:
        """Whether the tests failed on a finish and the search has not had its try (the
        loop keeps the end of its time for it)."""
        record = self.last
        return (
            self.aids
            and self.search is not None
            and not self.searched
            and record is not None
            and record.kind == "test"
            and ran(record)
            and record.exit_code != 0
        )

    def last_chance(self) -> bool:
        """At an end other than finish (a step limit, the model stuck) with the tests
        failing: the search's one try; whether the check passes now."""
        record = self.last
        if record is None or not self.search_due():
            return False
        self._search(record)
        return self._passed(self.last)

    def recheck(self, call: ToolCallRequest) -> CheckRecord:
        """The check run again now (by the search), recorded as the last one."""
        return self._run(call)

    def _unrun(self) -> bool:
        """Changed code (not notes or data) that nothing ran since, with no check known
        (asked once)."""
        evidence = self.evidence
        code = any(path.endswith(CODE_SUFFIXES) for path in evidence.changed)
        return self.aids and not self.unrun_questioned and code and not evidence.ran_since_change

    def _silent(self, record: CheckRecord) -> bool:
        """A run check that printed nothing on a task that expects output (asked once)."""
        return (
            self.aids
            and self.expects_output
            and not self.silence_questioned
            and record.kind == "run"
            and record.exit_code == 0
            and not record.output_tail.strip()
        )

    def final_check(self, call: ToolCallRequest) -> None:
        """At an end other than finish: run the check once, to report the state honestly."""
        if self.check is not None and self.evidence.changed and self.last is None:
            self._run(call)

    def _run(self, call: ToolCallRequest) -> CheckRecord:
        assert self.check is not None
        self.attempts += 1
        self.last = self.run_check(call, self.check, self.attempts)
        return self.last

    @staticmethod
    def _passed(record: CheckRecord | None) -> bool:
        return record is not None and record.passed

    def verified(self) -> Verified:
        record = self.last
        if record is None or not ran(record):
            return "none"
        if record.output_differs:
            return "failed"
        if record.exit_code == 0:
            return "passed" if record.kind == "test" else "none"  # a run is not a test
        return "failed"

    def final(
        self,
        status: Status,
        reason: str,
        claim: str | None,
        unreachable: bool = False,
        error: bool = False,
    ) -> FinishEvent:
        """The final event, from evidence (`error`: a failure a person must fix ended it)."""
        verified = self.verified()
        if self.search_passed:
            reason = f"{reason}; " if reason else ""
            reason += "the check passed on an answer of the check-guided search"
        missing = self._unmet() if status == "finished" else []
        broken = self._broken_now()
        outcome: Outcome = (
            "model_unreachable"
            if unreachable
            else "error"
            if error
            else _outcome(status, verified, self.evidence.denials, _decisive(missing))
        )
        record = self.last
        if record is None and self.check is not None:
            record = CheckRecord(
                command=self.check.command,
                source=self.check.source,
                kind=self.check.kind,
                exit_code=None,
                note="not run: no file changed" if not self.evidence.changed else "not run",
            )
        event = FinishEvent(
            status=status,
            summary="",
            outcome=outcome,
            claim=claim,
            verified=verified,
            check=record,
            files_changed=self.evidence.files(),
            diff=self.evidence.diff(),
            commands=list(self.evidence.commands),
            denials=self.evidence.denials,
            unmet=missing,
            broken=broken,
        )
        return event.model_copy(update={"summary": summarize(event, reason)})

    def _broken_now(self) -> list[str]:
        """What the session's changes left failing at the end (aids on): evidence for the
        summary; it never decides the outcome (the check does)."""
        broken = self.broken
        return _at_end(broken) if self.aids and broken is not None else []

    def _unmet(self) -> list[str]:
        """The task's named things still missing, looked for again at the end (aids on)."""
        files = self.files
        if not self.aids or files is None:
            return []
        return _at_end(lambda: unmet(self.terms, files, self.exists))


def _at_end(look: Callable[[], list[str]]) -> list[str]:
    """What a look at the workspace found at the end; nothing when the sandbox is gone
    (nothing to look at, nothing claimed)."""
    try:
        return look()
    except RempartError:
        return []


def _decisive(missing: list[str]) -> bool:
    """Whether what the task names and the workspace lacks decides the outcome: a missing
    name does; a missing file it asks to save is evidence only (a program may make it when
    it runs)."""
    return any(not line.endswith(NO_FILE) for line in missing)


def _outcome(status: str, verified: Verified, denials: int, unmet: bool = False) -> Outcome:
    if status == "finished":
        if verified == "failed" or (unmet and verified != "passed"):
            return "check_failed"  # a passing test outweighs the task-terms heuristic
        return "success"
    if status == "stopped":
        return "stopped"
    if status == "limit":
        return "limit"
    return "blocked" if denials else "failed"


OUTCOME_WORDS: dict[str, str] = {
    "success": "done",
    "check_failed": "NOT done: the check failed",
    "failed": "NOT done: the model gave up",
    "blocked": "NOT done: the policy refused what it needed",
    "limit": "NOT done: a budget ran out",
    "stopped": "stopped by the person",
    "model_unreachable": "NOT done: the model server did not answer",
    "error": "NOT done: stopped by an error a person must fix",
}


def summarize(event: FinishEvent, reason: str) -> str:
    """One paragraph of checked facts (the model's claim is shown apart, as a claim)."""
    outcome = event.outcome or "failed"
    words = OUTCOME_WORDS[outcome]
    if outcome == "success" and event.verified != "passed":
        words = "done, NOT verified: no test checked the result"
    elif outcome == "check_failed" and event.verified != "failed":
        words = "NOT done: what the task names is missing"
    lines = [words + (f" ({reason})" if reason else "")]
    record = event.check
    if record is None:
        lines.append("check: none known (no test command in the task, .rempart/project.yaml, "
                     "AGENTS.md, or a detected runner)")  # fmt: skip
    elif record.exit_code is None:
        lines.append(f"check: `{record.command}` did not run ({record.note or 'refused'})")
    else:
        state = record.state()
        if record.exit_code in NOT_RUN:
            state = "could not run"
        lines.append(f"check: `{record.command}` {state} (exit {record.exit_code}; "
                     f"{record.source})")  # fmt: skip
    changed = event.files_changed
    if changed:
        listed = ", ".join(f"{c.path} ({c.change})" for c in changed[:12])
        more = f" and {len(changed) - 12} more" if len(changed) > 12 else ""
        lines.append(f"files changed: {len(changed)}: {listed}{more}")
    else:
        lines.append("files changed: none")
    lines += [f"named by the task, NOT found: {line}" for line in event.unmet]
    lines += [f"code left failing: {line.splitlines()[0]}" for line in event.broken[:5]]
    failed = sum(1 for c in event.commands if c.exit_code not in (0, None))
    lines.append(f"commands run: {len(event.commands)} ({failed} failed); "
                 f"policy denials: {event.denials}")  # fmt: skip
    return "\n".join(lines)
