"""`allow_rule_yaml`: a reviewable YAML rule that allows exactly one action ("allow always")."""

from __future__ import annotations

import json

from policies.actions import Action, Exec, FsRead, FsWrite, McpCall, McpStart, NetConnect
from policies.hosts import parse_host
from policies.interpreters import code_reason
from policies.paths import normalise
from policies.shell import LIT, MAX_COMMAND, parse_command
from policies.wrappers import analyse


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def allow_rule_yaml(action: Action) -> str:
    """YAML (a fragment of a policy file) whose rule allows exactly `action`."""
    if isinstance(action, FsRead | FsWrite):
        op = "read" if isinstance(action, FsRead) else "write"
        n = normalise(action.path)
        if n.error:
            return f"# cannot allow this path: {n.error}\n"
        return f"files:\n  {op}:\n    allow:\n      - {_q(_glob_escape(n.exact))}\n"
    if isinstance(action, NetConnect):
        try:
            host = parse_host(action.host).name
        except ValueError as exc:
            return f"# cannot allow this host: {exc}\n"
        return f"network:\n  allow:\n    - {_q(f'{host}:{action.port}')}\n"
    if isinstance(action, McpStart):
        return f"mcp:\n  servers:\n    {_q(action.server)}: {{decision: allow}}\n"
    if isinstance(action, McpCall):
        match = _glob_escape(f"{action.server}.{action.tool}")
        return f"mcp:\n  tools:\n    - {{match: {_q(match)}, decision: allow}}\n"
    assert isinstance(action, Exec)
    return _exec_yaml(action.command)


def _exec_yaml(command: str) -> str:
    if len(command) > MAX_COMMAND:
        return "# this command is too long to allow\n"
    lines = ["exec:"]
    notes: list[str] = []
    for seg in parse_command(command):
        argv = seg.argv
        dynamic = seg.dynamic or (code_reason(argv) if argv and argv[0].kind == LIT else None)
        if not dynamic and argv and argv[0].kind == LIT:
            dynamic = analyse(argv).dynamic
        if dynamic or not argv or any(t.kind != LIT for t in argv):
            notes.append(f"# `{seg.source[:120]}` is dynamic ({dynamic}): no rule can allow it")
            continue
        tokens = ", ".join(
            f"{{glob: {_q(_glob_escape(t.text))}}}" if t.text in ("*", "**") else _q(t.text)
            for t in argv
        )
        lines += [
            f"  - match: [{tokens}]", "    decision: allow", "    exact: true",
            f"    reason: {_q('approved: ' + seg.source[:200])}",
        ]  # fmt: skip
    if len(lines) == 1:
        lines = []
    return "\n".join(notes + lines) + "\n"
