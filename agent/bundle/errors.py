"""The bundle's errors a person must fix (exit 8, rendered once by `rempart.cli`)."""

from __future__ import annotations

from policies.errors import RempartError


class BundleError(RempartError):
    """A bundle could not be made, is not what was signed, or could not be installed."""

    def __init__(self, message: str, hint: str = "", problems: list[str] | None = None) -> None:
        super().__init__(message, hint)
        self.problems = problems or []

    def details(self) -> list[str]:
        return self.problems
