"""`rempart run "TASK" --workspace DIR`: one task, headless, for CI and scripts.

`-` as the task reads it from stdin. The exit code says how the session ended (README: exit
codes); a one-line totals summary (tokens, time, energy) goes to stderr at the end.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from agent.approval import Approver, DenyApprover, PolicyApprover
from agent.discovery import Layer, load_policy_set
from agent.logs import log_event
from agent.render import JsonPrinter, TextPrinter
from agent.session_args import SessionArgs, add_session_arguments
from agent.settings import Settings
from agent.totals import Totals
from policies.errors import RempartError
from policies.exitcodes import Exit

if TYPE_CHECKING:
    from agent.session import SessionOptions

EXIT_CODES: dict[str, Exit] = {
    "success": Exit.OK,
    "failed": Exit.FAILED,
    "limit": Exit.LIMIT,
    "stopped": Exit.STOPPED,
    "check_failed": Exit.CHECK_FAILED,
    "blocked": Exit.BLOCKED,
    "model_unreachable": Exit.MODEL_UNREACHABLE,
    "error": Exit.ERROR,
}


def approver_from(path: str | None) -> Approver:
    if path is None:
        return DenyApprover()
    approvals = load_policy_set([Layer(name="approve", path=Path(path))])
    return PolicyApprover(approvals, Path(path).name)


def read_task(task: str) -> str:
    """The task as given, or stdin's text for `-`."""
    if task != "-":
        return task
    text = sys.stdin.read().strip()
    if not text:
        raise RempartError("the task read from stdin is empty", hint="echo 'TASK' | rempart run -")
    return text


def run_session(settings: Settings, options: SessionOptions, json_mode: bool) -> int:
    from agent.session import Session  # openai, mcp, docker: only when a session runs

    printer = JsonPrinter() if json_mode else TextPrinter()
    totals = Totals()
    try:
        with Session(settings, options, [printer, totals, log_event]) as session:

            def on_signal(signum: int, frame: FrameType | None) -> None:
                session.stop()
                session.interrupt_model_turn()

            def on_alarm(signum: int, frame: FrameType | None) -> None:
                session.interrupt_model_turn(time_up=True)

            previous = signal.signal(signal.SIGTERM, on_signal)
            previous_alarm = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, options.limits.max_wall_s)
            try:
                finish = session.run()
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous_alarm)
                signal.signal(signal.SIGTERM, previous)
    except RempartError as exc:  # ModelUnavailable before the first step is 7 (its exit_code)
        if json_mode:
            print(json.dumps({"type": "error", "message": exc.message, "hint": exc.hint}))
            return exc.exit_code
        raise
    print(totals.line(), file=sys.stderr)
    return EXIT_CODES[finish.outcome or "failed"]


def cmd_run(args: argparse.Namespace) -> int:
    session_args = SessionArgs.from_namespace(args)
    if not session_args.workspace.is_dir():
        raise RempartError(
            f"workspace {session_args.workspace} is not a folder", hint="pass --workspace DIR"
        )
    options = session_args.options(read_task(args.task), approver=approver_from(args.approve))
    return run_session(Settings(), options, args.json)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run one task headless (CI, scripts)")
    run.add_argument("task", help="what to do, in words; - reads it from stdin")
    run.add_argument("--json", action="store_true", help="one JSON event per line")
    run.add_argument("--approve", help="policy file of auto-approvals for `ask` (default: deny)")
    add_session_arguments(run)
    run.set_defaults(func=cmd_run)
