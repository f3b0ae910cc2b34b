"""What `rempart mcp list | tools | pin | call` do (imported only when one runs: the MCP SDK,
Docker). Verbs: `agent.cli_mcp`.

Each verb goes through what a session uses: the configuration (org, user, trusted
project), the policy layers (`mcp.start`, `mcp.call`), the server's own sandbox, the pins.
Every start, call, pin and refusal is written to the audit log (kind `mcp`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from agent.audit import open_audit
from agent.discovery import discover_layers, load_policy_set, trusted_files
from agent.errors import McpError
from agent.mcp_config import McpConfig, McpServerConfig, load_all
from agent.mcp_pins import Pins, Vetted, definition, diff, findings
from agent.mcp_probe import Probe, probe_server
from agent.settings import Settings
from agent.tools import TOOLS
from agent.tools.mcp_tool import mcp_call_action
from policies import McpStart, PolicySet
from policies.exitcodes import Exit
from policies.termsafe import json_safe, safe, safe_line

AUDIT_SESSION = "cli-mcp"


class _Context:
    def __init__(self, args: argparse.Namespace) -> None:
        self.settings = Settings()
        self.workspace = Path(args.workspace).resolve()
        layers = discover_layers(self.settings, self.workspace, list(args.policy))
        self.policy: PolicySet = load_policy_set(layers)
        self.config: McpConfig = load_all(
            self.settings.org_policy_dir,
            self.settings.config_dir,
            self.workspace,
            trusted_files(self.settings),
        )
        self.audit = open_audit(self.settings)

    def server(self, name: str) -> McpServerConfig:
        config = self.config.servers.get(name)
        if config is None:
            known = ", ".join(sorted(self.config.servers)) or "none"
            raise McpError(
                f"no MCP server {name!r} is configured (configured: {known})",
                hint="add it to mcp.json or mcp.yaml in the config folder (see docs/mcp.md)",
            )
        return config

    def image(self) -> str:
        from sandbox.image_build import ensure_image

        return self.settings.sandbox_image or ensure_image()

    def note(self, text: str, **fields: Any) -> None:
        self.audit.append(AUDIT_SESSION, "mcp", note=text[:2000], **fields)

    def probe(self, name: str) -> Any:
        config = self.server(name)
        self.note(f"start {name}", action=McpStart(server=name).model_dump())
        return probe_server(self.policy, name, config, self.workspace, self.image())


def _out(data: object) -> None:
    print(json_safe(json.dumps(data, ensure_ascii=False)))


def cmd_list(args: argparse.Namespace) -> int:
    ctx = _Context(args)
    rows: list[dict[str, Any]] = []
    for name, server in sorted(ctx.config.servers.items()):
        start = ctx.policy.evaluate(McpStart(server=name))
        table = ctx.policy.mcp_network_table(name)
        network = [
            rule["pattern"]
            for layer in (table["layers"] if table else [])
            for rule in layer["rules"]
            if rule["decision"] == "allow"
        ]
        rows.append(
            {
                "server": name,
                "transport": "http" if server.url else "stdio",
                "command": server.command,
                "url": server.url,
                "source": server.source,
                "start": start.decision,
                "rule": start.rule,
                "network": network,
                "workspace": ctx.policy.mcp_workspace(name),
            }
        )
    if args.json:
        _out({"servers": rows, "skipped": ctx.config.skipped})
        return Exit.OK
    for row in rows:
        what = row["url"] or " ".join(row["command"])
        print(
            f"{safe_line(str(row['server'])):16} start={row['start']:5} "
            f"network={safe_line(', '.join(row['network'])) or 'none'} "
            f"workspace={row['workspace']}  {safe_line(str(what))}"
        )
    for note in ctx.config.skipped:
        print(f"skipped: {safe_line(note)}")
    if not rows:
        print("no MCP servers configured")
    return Exit.OK


def _tool_rows(probe: Probe, pins: Pins) -> list[dict[str, Any]]:
    names = [*TOOLS, *(t.name for t in probe.tools)]
    rows = []
    for info in probe.tools:
        state = pins.status(info)
        row: dict[str, Any] = {
            "tool": info.qualified,
            "pin": state,
            "flags": findings(info, names),
            "description": info.description,
            "annotations": info.annotations,
        }
        if state == "changed":
            row["diff"] = diff(pins.pins[info.qualified].definition, definition(info))
        rows.append(row)
    return rows


def cmd_tools(args: argparse.Namespace) -> int:
    ctx = _Context(args)
    pins = Pins(ctx.settings.config_dir)
    with ctx.probe(args.server) as probe:
        rows = _tool_rows(probe, pins)
    if args.json:
        _out({"server": args.server, "tools": rows})
        return Exit.OK
    for row in rows:
        print(f"{safe_line(row['tool']):40} {row['pin']:8}")
        for flag in row["flags"]:
            print(f"    FLAGGED {safe_line(flag)}")
        print(f"    {safe_line(row['description'])}")
        if "diff" in row:
            print("    " + safe(row["diff"]).replace("\n", "\n    "))
    return Exit.OK


def cmd_pin(args: argparse.Namespace) -> int:
    ctx = _Context(args)
    pins = Pins(ctx.settings.config_dir)
    with ctx.probe(args.server) as probe:
        rows = _tool_rows(probe, pins)
        for row in rows:
            print(f"{safe_line(row['tool']):40} {row['pin']:8}")
            for flag in row["flags"]:
                print(f"    FLAGGED {safe_line(flag)}")
            if "diff" in row:
                print("    " + safe(row["diff"]).replace("\n", "\n    "))
        todo = [r for r in rows if r["pin"] != "pinned"]
        if not todo:
            print("every tool is pinned as it is")
            return Exit.OK
        if not args.yes:
            if not sys.stdin.isatty():
                raise McpError(
                    f"{len(todo)} tool(s) to pin and no one to ask",
                    hint=f"read the above, then `rempart mcp pin {args.server} --yes`",
                )
            answer = input(f"pin {len(todo)} tool(s) of {args.server} as shown? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing pinned")
                return Exit.FAILED
        by_name = {info.qualified: info for info in probe.tools}
        for row in todo:
            pins.pin(by_name[row["tool"]], row["flags"])
            ctx.note(f"pinned {row['tool']} ({row['pin']}); flags: {row['flags']}")
        pins.save()
    print(f"pinned {len(todo)} tool(s) in {safe_line(str(pins.path))}")
    return Exit.OK


def cmd_call(args: argparse.Namespace) -> int:
    ctx = _Context(args)
    try:
        arguments = json.loads(args.args)
    except ValueError as exc:
        raise McpError(f"--args is not JSON: {exc}", hint="give a JSON object") from exc
    if not isinstance(arguments, dict):
        raise McpError("--args must be a JSON object", hint='e.g. --args \'{"path": "."}\'')
    pins = Pins(ctx.settings.config_dir)
    with ctx.probe(args.server) as probe:
        taken = {name: f"built-in tool {name}" for name in TOOLS}
        others = [*TOOLS, *(t.name for t in probe.tools)]
        vetted: Vetted = pins.vet(probe.tools, taken, others)
        info = next((t for t in vetted.usable if t.name == args.tool), None)
        if info is None:
            why = _why_not(vetted, f"{args.server}.{args.tool}")
            ctx.note(f"refused {args.server}.{args.tool}: {why}")
            raise McpError(f"MCP tool {args.server}.{args.tool} is not usable: {why}")
        action = mcp_call_action(info, arguments)
        decision = ctx.policy.evaluate(action)
        ctx.audit.append(
            AUDIT_SESSION,
            "decision",
            action=action.model_dump(),
            decision=decision.decision,
            rule=decision.rule,
            approver="cli",
        )
        if decision.decision != "allow":
            raise McpError(
                f"the policy does not allow calling {info.qualified}: {decision.decision} "
                f"({decision.rule}: {decision.reason})",
                hint="an mcp.tools rule with decision allow for it",
            )
        result = probe.hub.call(args.server, args.tool, arguments, args.timeout)
    ctx.audit.append(
        AUDIT_SESSION, "result", tool=info.qualified, is_error=result.is_error,
        output_bytes=len(result.text.encode()),
    )  # fmt: skip
    if args.json:
        _out({"tool": info.qualified, "untrusted": True, **result.model_dump()})
    else:
        print(f"[untrusted output of MCP tool {safe_line(info.qualified)}]")
        print(safe(result.text, keep="\n\t"))
    return Exit.FAILED if result.is_error else Exit.OK


def _why_not(vetted: Vetted, key: str) -> str:
    if key in vetted.refused:
        return vetted.refused[key]
    if key in vetted.changed:
        return "its definition changed since it was pinned:\n" + vetted.changed[key]
    if key in vetted.waiting:
        return "waiting for a person to pin it: " + "; ".join(vetted.waiting[key])
    return "the server has no such tool"
