"""`rempart tui` (and bare `rempart`): open the terminal UI on a workspace.

Textual is imported only when the command runs, never to build the parser.
"""

from __future__ import annotations

import argparse

from agent.session_args import SessionArgs, add_session_arguments
from agent.settings import Settings
from policies.errors import RempartError


def open_tui(session_args: SessionArgs, task: str | None) -> int:
    if not session_args.workspace.is_dir():
        raise RempartError(
            f"workspace {session_args.workspace} is not a folder", hint="pass --workspace DIR"
        )
    from tui.app import RempartApp

    RempartApp(Settings(), session_args, task=task).run()
    return 0


def handler(args: argparse.Namespace) -> int:
    return open_tui(SessionArgs.from_namespace(args), args.task)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tui = sub.add_parser("tui", help="open the terminal UI (the default command)")
    tui.add_argument("--task", help="start with this task")
    add_session_arguments(tui)
    tui.set_defaults(func=handler)
