"""`explain`: every rule that matched, from which file:line, and why the final one won.

`explanation()` is the data (`policy explain --json`); `explain()` renders it as text.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from policies.actions import Action, Exec, McpCall
from policies.mcpargs import ArgRule
from policies.rules import Rule
from policies.termsafe import safe_line

if TYPE_CHECKING:
    from policies.evaluator import PolicySet

_ORDER = "strictest wins: allow < ask < deny, in any order and across all layers"
_MCP_CARVE = "; an mcp.tools rule naming the exact tool overrides a wildcard ask of its own layer"
_DEFAULT = "; with no match, the strictest `default` applies"

Json = dict[str, Any]


def _rule(rule: Rule, why: str | None = None) -> Json:
    data = asdict(rule)
    return data if why is None else {**data, "ignored_because": why}


def explanation(policy: PolicySet, action: Action) -> Json:
    """What `explain` says, as data: layers, matched and ignored rules, the final decision."""
    decision = policy.evaluate(action)
    data: Json = {
        "action": action.model_dump(mode="json"),
        "layers": [{"name": info.name, "path": info.path} for info in policy.layers],
    }
    if isinstance(action, Exec):
        data["commands"] = [
            {
                "command": trace.source,
                "depth": trace.depth,
                "dynamic": trace.dynamic,
                "matched": [_rule(r) for r in trace.hits],
                "ignored": [_rule(r, why) for r, why in trace.ignored],
                "files": [text for _r, text in trace.paths],
                "decision": trace.rule.decision,
                "reason": trace.reason,
            }
            for trace in policy.exec_traces(action)
        ]
    else:
        judged = policy.judge(action, everything=True)
        outcome = judged.outcome
        data["matched"] = [_rule(r) for r in outcome.hits]
        data["ignored"] = [_rule(r, why) for r, why in outcome.ignored]
        if isinstance(action, McpCall):
            for rule in (*data["matched"], *data["ignored"]):
                args = _arg_rule(policy, rule)
                if args is not None:
                    rule["constraints"] = args.summary()
            data["files"] = judged.files
    carve = _MCP_CARVE if isinstance(action, McpCall) else ""
    data["decision"] = decision.model_dump(mode="json")
    data["rule_of_combination"] = f"{_ORDER}{carve}{_DEFAULT}"
    data["sandbox_runtime"] = policy.runtime.model_dump(mode="json")
    return data


def _arg_rule(policy: PolicySet, rule: Json) -> ArgRule | None:
    """The argument constraints of an mcp.tools rule (None for other rules)."""
    if not str(rule["id"]).startswith("mcp.tools[") or not 0 <= rule["index"] < len(
        policy.compiled
    ):
        return None
    return policy.compiled[rule["index"]].mcp_args.get(rule["id"])


def _rule_line(rule: Json) -> str:
    if rule["layer"] == "builtin":
        return f"{rule['decision']:<5} {rule['id']} (built in): {rule['reason']}"
    why = f" — {rule['reason']}" if rule["reason"] else ""
    where = f"[{rule['layer']} layer, {rule['source']}]"
    extra = f" {{{rule['constraints']}}}" if rule.get("constraints") else ""
    return f"{rule['decision']:<5} {rule['id']} `{rule['pattern']}`{extra} {where}{why}"


def _matches(data: Json, indent: str) -> list[str]:
    lines = [f"{indent}matched {_rule_line(r)}" for r in data["matched"]]
    lines += [
        f"{indent}ignored {_rule_line(r)}: {safe_line(r['ignored_because'])}"
        for r in data["ignored"]
    ]
    return lines


def explain(policy: PolicySet, action: Action) -> str:
    data = explanation(policy, action)
    lines = [f"action: {action.model_dump_json()}"]
    lines.append("layers: " + ", ".join(f"{x['name']} ({x['path']})" for x in data["layers"]))
    for command in data.get("commands", []):
        indent = "  " * (command["depth"] + 1)
        lines.append(f"{indent[:-2]}command `{safe_line(command['command'])}`")
        if command["dynamic"]:
            lines.append(f"{indent}dynamic: {command['dynamic']} (allow rules do not apply)")
        if not command["matched"] and not command["dynamic"]:
            lines.append(f"{indent}no exec rule matched")
        lines += _matches(command, indent)
        lines += [f"{indent}file    {safe_line(text)}" for text in command["files"]]
        lines.append(f"{indent}=> {command['decision']}: {safe_line(command['reason'])}")
    if "matched" in data:
        if not data["matched"]:
            lines.append("no rule matched")
        lines += _matches(data, "")
        lines += [f"file    {safe_line(text)}" for text in data.get("files", [])]
    decision = data["decision"]
    lines.append(
        f"final: {decision['decision']} by {decision['rule']} ({decision['source'] or 'built in'})"
    )
    lines.append(f"why: {safe_line(decision['reason'])}")  # reasons quote paths: one line each
    lines.append(f"rule of combination: {data['rule_of_combination']}")
    if policy.runtime.layer is not None:  # only where a layer asks for a runtime
        lines.append(f"sandbox runtime: {safe_line(policy.runtime.describe())}")
    return "\n".join(lines)
