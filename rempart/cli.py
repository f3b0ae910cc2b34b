"""The one `rempart` entry point: the root parser, the command groups, the one error handler.

Every command's errors end here: a `RempartError` is rendered once on stderr and its class
decides the exit code (`policies.exitcodes.Exit`: 8 for a problem to fix, 125 for the
sandbox, 7 for a model server that does not answer); argparse's usage errors are 2 and
Ctrl+C is 130. Bare `rempart [session options]` opens the TUI.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Callable, Sequence

from agent import (
    cli_audit,
    cli_bundle,
    cli_config,
    cli_mcp,
    cli_policy,
    cli_run,
    cli_sessions,
    cli_store,
    cli_undo,
    doctor,
)
from agent.about import version_line
from agent.logs import configure_logging
from agent.serving import cli as model_cli
from agent.session_args import SessionArgs, add_session_arguments
from policies import cli as policy_cli
from policies.errors import RempartError
from policies.exitcodes import Exit
from policies.termsafe import safe
from rempart import completion
from sandbox import cli as sandbox_cli
from tui import cli_tui

ROOT_PREFIX = "root_"  # bare `rempart`'s session options, kept apart from a command's own
LOG_LEVELS = ("debug", "info", "warning", "error")
log = logging.getLogger(__name__)


class _Version(argparse.Action):
    """`--version`, computed only when asked (the image tag hashes the build inputs)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> None:
        print(version_line())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rempart",
        description="Sandboxed, on-prem coding agent. Without a command: the TUI, with the "
        "session options below.",
        epilog="Exit codes: see `man rempart` (rempart man) or docs/cli.md.",
    )
    parser.add_argument("--version", action=_Version)
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="write this much to the log file (default: REMPART_LOG_LEVEL, else warning)",
    )
    add_session_arguments(parser, prefix=ROOT_PREFIX)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    cli_run.add_commands(sub)
    cli_tui.add_commands(sub)
    cli_policy.extend(policy_cli.add_commands(sub))
    sandbox_cli.add_commands(sub)
    model_cli.add_commands(sub)
    cli_sessions.add_commands(sub)
    cli_undo.add_commands(sub)
    cli_audit.add_commands(sub)
    cli_store.add_commands(sub)
    cli_mcp.add_commands(sub)
    doctor.add_commands(sub)
    cli_config.add_commands(sub)
    cli_bundle.add_commands(sub)
    completion.add_commands(sub, build_parser)
    return parser


def _open_tui(args: argparse.Namespace) -> int:
    return cli_tui.open_tui(SessionArgs.from_namespace(args, ROOT_PREFIX), task=None)


def _dispatch(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> Callable[[argparse.Namespace], int]:
    root_options = [k for k, v in vars(args).items() if k.startswith(ROOT_PREFIX) and v is not None]
    if args.command is None:
        return _open_tui
    if root_options:
        parser.error(f"session options go after the command: rempart {args.command} --OPTION ...")
    func: Callable[[argparse.Namespace], int] = args.func
    return func


def render_error(exc: RempartError) -> None:
    print(f"error: {safe(exc.message)}", file=sys.stderr)
    for line in exc.details():
        print(f"  {safe(line)}", file=sys.stderr)
    if exc.hint:
        print(f"hint: {safe(exc.hint)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(words)
    func = _dispatch(parser, args)
    try:
        configure_logging(args.log_level)
        log.debug("rempart %s", shlex.join(words))
        code = func(args)
    except RempartError as exc:
        log.warning("rempart %s: %s (exit %d)", shlex.join(words), exc, exc.exit_code)
        render_error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return Exit.INTERRUPTED
    log.info("rempart %s: exit %d", args.command or "tui", code)
    return code
