"""A session's change and its undo, from the checkpoints its sandbox recorded
(`sandbox.checkpoints`): shared by `rempart sessions diff`, `rempart undo` and the TUI."""

from __future__ import annotations

import os
from pathlib import Path

from agent.audit import open_audit
from agent.errors import SessionNotFound
from agent.settings import Settings
from agent.store import SessionRow, open_store
from agent.workspace_lock import WorkspaceLock
from sandbox.checkpoints import Checkpoints, UndoRefused, UndoReport


def checkpoints_of(settings: Settings, row: SessionRow) -> Checkpoints:
    return Checkpoints(settings.checkpoints_dir, Path(row.workspace), row.id)


def find_session(settings: Settings, session_id: str | None, workspace: Path) -> SessionRow:
    """The session named, or the latest one in `workspace`."""
    real = os.path.realpath(workspace)
    store = open_store(settings)
    try:
        if session_id:
            return store.get(session_id)
        for row in store.list(limit=10_000):
            if os.path.realpath(row.workspace) == real:
                return row
    finally:
        store.close()
    raise SessionNotFound(f"no session has run in {real}", hint="name one: `rempart sessions list`")


def undo_session(settings: Settings, row: SessionRow, to: int = 0) -> UndoReport:
    """Put the workspace back as it was after step `to` of the session (0: before it).
    Takes the workspace lock (no session may run meanwhile); audited before and after."""
    audit = open_audit(settings)
    with WorkspaceLock(settings.locks_dir, Path(row.workspace)).acquire(f"undo of {row.id}"):
        checkpoints = checkpoints_of(settings, row)
        audit.append(row.id, "session", note=f"undo to step {to} requested")
        try:
            report = checkpoints.undo(to)
        except UndoRefused as exc:
            audit.append(row.id, "session", note=f"undo refused: {exc.message[:400]}")
            raise
        note = f"undo to step {to}: {len(report.restored)} restored, {len(report.left)} left"
        audit.append(row.id, "session", note=note)
    return report
