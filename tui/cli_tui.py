"""`rempart tui` (and plain `rempart`): open the terminal UI on a workspace."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def handler(args: argparse.Namespace) -> int:
    workspace = Path(args.workspace)
    if not workspace.is_dir():
        print(f"error: workspace {workspace} is not a folder", file=sys.stderr)
        return 2
    from agent.settings import Settings
    from tui.app import RempartApp, TuiConfig

    config = TuiConfig(
        workspace=workspace,
        policy_files=[Path(p) for p in args.policy],
        model_url=args.model,
        task=args.task,
    )
    RempartApp(Settings(), config).run()
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tui = sub.add_parser("tui", help="open the terminal UI (the default command)")
    tui.add_argument("--workspace", default=".", help="the project folder (default: .)")
    tui.add_argument("--policy", action="append", default=[], help="add a policy file (repeatable)")
    tui.add_argument("--model", help="OpenAI-compatible base URL (default: REMPART_MODEL_BASE_URL)")
    tui.add_argument("--task", help="start with this task")
    tui.set_defaults(func=handler)
