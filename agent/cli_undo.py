"""`rempart undo [ID] [--to STEP]`: put back what a session changed in its workspace."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent.settings import Settings
from agent.undo import find_session, undo_session
from policies.exitcodes import Exit
from policies.termsafe import safe, safe_line
from sandbox.checkpoints import UndoRefused


def cmd_undo(args: argparse.Namespace) -> int:
    settings = Settings()
    row = find_session(settings, args.id, Path(args.workspace))
    try:
        report = undo_session(settings, row, args.to)
    except UndoRefused as exc:
        print(f"error: {safe(exc.message)}", file=sys.stderr)
        print(f"hint: {safe(exc.hint)}", file=sys.stderr)
        return Exit.FAILED
    for path in report.restored:
        print(f"restored {safe_line(path)}")
    for path, why in report.left.items():
        print(f"left     {safe_line(path)}: {safe_line(why)}")
    target = f"step {args.to}" if args.to else "before the session"
    print(
        f"session {row.id}: {len(report.restored)} path(s) restored to {target} "
        f"in {safe_line(row.workspace)}"
    )
    return Exit.OK


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    undo = sub.add_parser("undo", help="put back what a session changed (checkpoints)")
    undo.add_argument("id", nargs="?", help="session id (default: the latest in --workspace)")
    undo.add_argument(
        "--to", type=int, default=0, metavar="STEP", help="keep steps 1..STEP (default: 0, none)"
    )
    undo.add_argument("--workspace", default=".", help="with no ID: the project folder")
    undo.set_defaults(func=cmd_undo)
