"""`rempart mcp list | tools SERVER | pin SERVER | call SERVER TOOL`: MCP without a model.

Each verb goes through what a session uses: the configuration (org, user, trusted
project), the policy layers (`mcp.start`, `mcp.call`), the server's own sandbox, the pins.
Every start, call, pin and refusal is written to the audit log. The work is in
`agent.mcp_commands`, imported when a verb runs (the MCP SDK and Docker are slow to load).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from policies.shipped import policy_argument


def _run(verb: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from agent import mcp_commands

        func: Callable[[argparse.Namespace], int] = getattr(mcp_commands, f"cmd_{verb}")
        return func(args)

    return run


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", default=".", metavar="DIR", help="the project folder")
    parser.add_argument(
        "--policy",
        action="append",
        default=[],
        type=policy_argument,
        metavar="NAME|FILE",
        help="add a policy layer: a file or a shipped policy",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mcp = sub.add_parser("mcp", help="MCP servers: list, tools, pin, call (no model)")
    verbs = mcp.add_subparsers(dest="verb", metavar="VERB", required=True)
    listing = verbs.add_parser("list", help="configured servers and what the policy lets them do")
    _common(listing)
    listing.set_defaults(func=_run("list"))
    tools = verbs.add_parser("tools", help="start a server in its sandbox; its tools, pins, flags")
    tools.add_argument("server")
    _common(tools)
    tools.set_defaults(func=_run("tools"))
    pin = verbs.add_parser("pin", help="approve a server's tools as they are now (shows diffs)")
    pin.add_argument("server")
    pin.add_argument("--yes", action="store_true", help="pin without asking")
    _common(pin)
    pin.set_defaults(func=_run("pin"))
    call = verbs.add_parser("call", help="call one tool through the policy and the sandbox")
    call.add_argument("server")
    call.add_argument("tool")
    call.add_argument("--args", default="{}", metavar="JSON", help="the tool's arguments")
    call.add_argument("--timeout", type=float, default=60.0, metavar="S", help="per-call timeout")
    _common(call)
    call.set_defaults(func=_run("call"))
