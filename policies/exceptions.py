"""Errors a person must fix: a policy that does not load, an action that does not parse."""

from __future__ import annotations

from dataclasses import dataclass

from policies.errors import RempartError


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


class PolicyInputError(RempartError):
    """An action that is not valid JSON or not a valid action."""
