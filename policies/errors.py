"""The error a person must fix, rendered once at the edge of the program.

`RempartError` lives in `policies/` because it is the one package that imports nothing
else of ours; `sandbox`, `agent` and `tui` subclass it. What the *model* can fix never
raises: it becomes a tool result with `is_error`.
"""

from __future__ import annotations


class RempartError(Exception):
    """A problem for a person: a message and a hint saying what to do about it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message
