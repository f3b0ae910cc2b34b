"""The errors a person must fix, rendered once at the edge of the program (`rempart.cli`).

`RempartError` lives in `policies/` because it is the one package that imports nothing
else of ours; `sandbox`, `agent` and `tui` subclass it in their own `errors.py`. Each class
carries the exit code the command line ends with (`policies.exitcodes.Exit`). What the
*model* can fix never raises: it becomes a tool result with `is_error`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from policies.exitcodes import Exit


class RempartError(Exception):
    """A problem for a person: a message and a hint saying what to do about it."""

    exit_code: ClassVar[Exit] = Exit.ERROR

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def details(self) -> list[str]:
        """Lines to show under the message (e.g. every problem of a policy file)."""
        return []


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding about a policy file, positioned at `path:line:col` (1-based)."""

    path: str
    line: int
    col: int
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else "warning: "
        return f"{self.path}:{self.line}:{self.col}: {tag}{self.message}"


class PolicyLoadError(RempartError):
    """A policy that does not load. `str()` is the first problem as `path:line:col: message`."""

    def __init__(self, problems: list[Problem], hint: str = "") -> None:
        errors = [p for p in problems if p.severity == "error"] or problems
        first = errors[0]
        super().__init__(
            str(first), hint or "fix the policy file; Rempart never runs without a policy"
        )
        self.problems = problems
        self.path = first.path
        self.line = first.line
        self.col = first.col
        self.detail = first.message

    def render(self) -> str:
        """Every problem, one per line."""
        return "\n".join(str(p) for p in self.problems)

    def details(self) -> list[str]:
        return [str(p) for p in self.problems] if len(self.problems) > 1 else []


class PolicyInputError(RempartError):
    """An action that is not valid JSON or not a valid action."""


class UnknownPolicy(RempartError):
    """`--policy NAME` names neither a file nor a shipped policy."""
