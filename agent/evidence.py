"""What a session did, as checked facts: the files it changed on the host (with the
session's diff), the commands it ran with their exit codes, the policy's denials and the
project check's result. The final event and the last lines `rempart run` prints are built
from this, never from what the model says it did.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

from agent.events import (
    CommandRecord,
    DecisionEvent,
    Event,
    FileChange,
    ToolCallEvent,
    ToolResultEvent,
)
from sandbox.changes import ChangeReport
from sandbox.view import View, read_nofollow

BASELINE_FILE_CAP = 256 * 1024
BASELINE_TOTAL_CAP = 32 * 1024 * 1024
DIFF_CAP = 20_000
OUTPUT_TAIL = 2_000


class Evidence:
    """Collects facts as the session emits events and the sandbox syncs changes."""

    def __init__(self) -> None:
        self.changed: dict[str, str] = {}
        self.commands: list[CommandRecord] = []
        self.denials = 0
        self.ran_since_change = False  # a command ran after the last file change
        self._pending: dict[str, str] = {}  # call id -> command of a `run` call
        self._baseline: dict[str, bytes] = {}
        self._root: Path | None = None

    # feeding ---------------------------------------------------------------------
    def take_baseline(self, view: View) -> None:
        """The text of the workspace's readable files as the session found them (bounded),
        so the session's diff can be shown at the end."""
        if self._root is not None:
            return
        self._root = view.root
        total = 0
        for item in view.items:
            if item.kind != "file" or item.size > BASELINE_FILE_CAP:
                continue
            if total + item.size > BASELINE_TOTAL_CAP:
                break
            data = read_nofollow(view.root, item.rel)
            if data is not None:
                self._baseline[item.rel] = data
                total += len(data)

    def on_sync(self, report: ChangeReport) -> None:
        for outcome in report.applied:
            if outcome.kind == "dir":
                continue
            self.ran_since_change = False
            first = self.changed.get(outcome.path)
            if first == "created" and outcome.change == "deleted":
                del self.changed[outcome.path]  # made and removed again: no change
            elif first is None or outcome.change == "deleted":
                self.changed[outcome.path] = outcome.change
            if outcome.change == "modified" and self._as_found(outcome.path):
                self.changed.pop(outcome.path, None)  # written back as it was: no change

    def _as_found(self, path: str) -> bool:
        """Whether a file holds again what it held when the session began."""
        before = self._baseline.get(path)
        return (
            self._root is not None
            and before is not None
            and (read_nofollow(self._root, path) == before)
        )

    def on_event(self, event: Event) -> None:
        if isinstance(event, ToolCallEvent) and event.tool == "run":
            self._pending[event.call_id] = str(event.arguments.get("command", ""))
        elif isinstance(event, ToolResultEvent) and event.call_id in self._pending:
            command = self._pending.pop(event.call_id)
            self.commands.append(CommandRecord(command=command, exit_code=event.exit_code))
            self.ran_since_change = True
        elif isinstance(event, DecisionEvent) and event.decision == "deny":
            self.denials += 1

    # reading ---------------------------------------------------------------------
    def files(self) -> list[FileChange]:
        return [FileChange(path=p, change=c) for p, c in sorted(self.changed.items())]

    def diff(self, paths: Iterable[str] | None = None) -> str:
        """The session's diff of the changed text files (capped)."""
        if self._root is None:
            return ""
        parts: list[str] = []
        size = 0
        for path in sorted(paths if paths is not None else self.changed):
            before = self._baseline.get(path, b"")
            after = read_nofollow(self._root, path) or b""
            if b"\x00" in before[:8192] or b"\x00" in after[:8192]:
                parts.append(f"Binary file {path} changed\n")
                continue
            lines = difflib.unified_diff(
                before.decode("utf-8", "replace").splitlines(keepends=True),
                after.decode("utf-8", "replace").splitlines(keepends=True),
                fromfile=f"a/{path}" if path in self._baseline else "/dev/null",
                tofile=f"b/{path}" if after or self.changed.get(path) != "deleted" else "/dev/null",
            )
            text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
            parts.append(text)
            size += len(text)
            if size > DIFF_CAP:
                parts.append("[... diff cut ...]\n")
                break
        return "".join(parts)[: DIFF_CAP + 100]
