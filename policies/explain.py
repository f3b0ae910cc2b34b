"""`explain`: every rule that matched, from which file:line, and why the final one won."""

from __future__ import annotations

from typing import TYPE_CHECKING

from policies.actions import Action, Exec, McpCall
from policies.rules import Rule
from policies.termsafe import safe_line

if TYPE_CHECKING:
    from policies.evaluator import PolicySet

_ORDER = "strictest wins: allow < ask < deny, in any order and across all layers"
_MCP_CARVE = "; an mcp.tools rule naming the exact tool overrides a wildcard ask of its own layer"


def _rule_line(rule: Rule) -> str:
    if rule.layer == "builtin":
        return f"{rule.decision:<5} {rule.id} (built in): {rule.reason}"
    why = f" — {rule.reason}" if rule.reason else ""
    return f"{rule.decision:<5} {rule.id} `{rule.pattern}` [{rule.layer} layer, {rule.source}]{why}"


def explain(policy: PolicySet, action: Action) -> str:
    lines = [f"action: {action.model_dump_json()}"]
    lines.append("layers: " + ", ".join(f"{info.name} ({info.path})" for info in policy.layers))
    decision = policy.evaluate(action)
    if isinstance(action, Exec):
        for trace in policy.exec_traces(action):
            indent = "  " * (trace.depth + 1)
            lines.append(f"{indent[:-2]}command `{safe_line(trace.source)}`")
            if trace.dynamic:
                lines.append(f"{indent}dynamic: {trace.dynamic} (allow rules do not apply)")
            if not trace.hits and not trace.dynamic:
                lines.append(f"{indent}no exec rule matched")
            lines.extend(f"{indent}matched {_rule_line(r)}" for r in trace.hits)
            lines.extend(
                f"{indent}ignored {_rule_line(r)}: {safe_line(why)}" for r, why in trace.ignored
            )
            lines.extend(f"{indent}file    {safe_line(text)}" for _r, text in trace.paths)
            lines.append(f"{indent}=> {trace.rule.decision}: {safe_line(trace.reason)}")
    else:
        judged = policy.judge(action, everything=True)
        hits = judged.outcome.hits
        if not hits:
            lines.append("no rule matched")
        lines.extend(f"matched {_rule_line(r)}" for r in hits)
        lines.extend(
            f"ignored {_rule_line(r)}: {safe_line(why)}" for r, why in judged.outcome.ignored
        )
    lines.append(f"final: {decision.decision} by {decision.rule} ({decision.source or 'built in'})")
    lines.append(f"why: {safe_line(decision.reason)}")  # reasons quote paths: one line each
    carve = _MCP_CARVE if isinstance(action, McpCall) else ""
    lines.append(
        f"rule of combination: {_ORDER}{carve}; with no match, the strictest `default` applies"
    )
    return "\n".join(lines)
