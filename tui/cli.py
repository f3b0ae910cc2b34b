"""The one `rempart` entry point: builds the argument parser from each package's verbs.

It lives in `tui/` because that is the only package allowed to import all the others
(`tui -> agent -> {policies, sandbox}`); Textual itself is imported only when the TUI runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from policies.errors import RempartError
from policies.termsafe import safe

SubParsers = "argparse._SubParsersAction[argparse.ArgumentParser]"

# Command groups, in the order `--help` shows them: (name, module providing add_commands, help).
GROUPS: tuple[tuple[str, str, str], ...] = (
    ("run", "agent.cli_run", "run one task headless (CI, scripts)"),
    ("tui", "tui.cli_tui", "open the terminal UI"),
    ("policy", "policies.cli", "check, evaluate, explain and test policy files"),
    ("sandbox", "sandbox.cli", "build, run, inspect and clean sandboxes"),
    ("model", "agent.serving.cli", "fetch, serve and inspect the local model"),
    ("sessions", "agent.cli_sessions", "list, show, diff and resume sessions"),
    ("undo", "agent.cli_undo", "put back what a session changed"),
    ("audit", "agent.cli_audit", "verify and export the audit log"),
    ("doctor", "agent.doctor", "check that everything Rempart needs is in place"),
)


def _not_built(name: str, module: str, why: str) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        print(
            f"rempart {name}: not available in this build ({module}: {why}).",
            file=sys.stderr,
        )
        return 2

    return handler


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rempart",
        description="Sandboxed, on-prem coding agent. Without a command: the TUI.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name, help_text in GROUPS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module_name.startswith(exc.name):
                raise
            placeholder = sub.add_parser(name, help=f"{help_text} [not built yet]")
            placeholder.add_argument("rest", nargs=argparse.REMAINDER)
            placeholder.set_defaults(func=_not_built(name, module_name, "module missing"))
            continue
        verbs = module.add_commands(sub)
        if name == "policy":
            from agent.cli_policy import extend

            extend(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["tui", *([] if argv is None else argv)])
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.parse_args([args.command, "--help"])
        return 2
    try:
        return func(args)
    except RempartError as exc:
        print(f"error: {safe(exc.message)}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {safe(exc.hint)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
