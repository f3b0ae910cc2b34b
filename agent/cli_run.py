"""`rempart run "TASK" --workspace DIR`: one task, headless, for CI and scripts."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from types import FrameType

from agent.approval import Approver, DenyApprover, PolicyApprover
from agent.discovery import Layer, load_policy_set
from agent.loop import LoopLimits
from agent.model_client import ModelUnavailable
from agent.render import JsonPrinter, TextPrinter
from agent.session import Session, SessionOptions
from agent.settings import Settings
from policies.errors import RempartError
from policies.exitcodes import Exit
from policies.termsafe import safe

EXIT_CODES: dict[str, Exit] = {
    "success": Exit.OK,
    "failed": Exit.FAILED,
    "limit": Exit.LIMIT,
    "stopped": Exit.STOPPED,
    "check_failed": Exit.CHECK_FAILED,
    "blocked": Exit.BLOCKED,
    "model_unreachable": Exit.MODEL_UNREACHABLE,
}


def approver_from(path: str | None) -> Approver:
    if path is None:
        return DenyApprover()
    approvals = load_policy_set([Layer(name="approve", path=Path(path))])
    return PolicyApprover(approvals, Path(path).name)


def run_session(settings: Settings, options: SessionOptions, json_mode: bool) -> int:
    printer = JsonPrinter() if json_mode else TextPrinter()
    try:
        with Session(settings, options, [printer]) as session:

            def on_signal(signum: int, frame: FrameType | None) -> None:
                session.stop()

            previous = signal.signal(signal.SIGTERM, on_signal)
            try:
                finish = session.run()
            finally:
                signal.signal(signal.SIGTERM, previous)
    except ModelUnavailable as exc:  # before the first step: the probe got no answer
        if json_mode:
            print(json.dumps({"type": "error", "message": exc.message, "hint": exc.hint}))
        else:
            print(f"error: {safe(exc.message)}\nhint: {safe(exc.hint)}", file=sys.stderr)
        return Exit.MODEL_UNREACHABLE
    except RempartError as exc:
        if json_mode:
            print(json.dumps({"type": "error", "message": exc.message, "hint": exc.hint}))
            return 1
        raise
    return EXIT_CODES[finish.outcome or "failed"]


def cmd_run(args: argparse.Namespace) -> int:
    settings = Settings()
    options = SessionOptions(
        task=args.task,
        workspace=Path(args.workspace),
        policy_files=[Path(p) for p in args.policy],
        approver=approver_from(args.approve),
        model_url=args.model,
        limits=LoopLimits(
            max_steps=args.max_steps, max_wall_s=args.max_seconds, max_tokens=args.max_tokens
        ),
        ignore_project_policy=args.ignore_project_policy,
    )
    if not options.workspace.is_dir():
        print(f"error: workspace {options.workspace} is not a folder", file=sys.stderr)
        return 2
    return run_session(settings, options, args.json)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run one task headless (CI, scripts)")
    run.add_argument("task", help="what to do, in words")
    run.add_argument("--workspace", default=".", help="the project folder (default: .)")
    run.add_argument("--policy", action="append", default=[], help="add a policy file (repeatable)")
    run.add_argument("--model", help="OpenAI-compatible base URL (default: REMPART_MODEL_BASE_URL)")
    run.add_argument("--json", action="store_true", help="one JSON event per line")
    run.add_argument("--approve", help="policy file of auto-approvals for `ask` (default: deny)")
    run.add_argument("--max-steps", type=int, default=30)
    run.add_argument("--max-seconds", type=float, default=1800.0)
    run.add_argument(
        "--max-tokens", type=int, default=200_000, help="prompt + completion tokens, in all"
    )
    run.add_argument(
        "--ignore-project-policy",
        action="store_true",
        help="do not read .rempart/policy.yaml from the workspace",
    )
    run.set_defaults(func=cmd_run)
