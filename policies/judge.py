"""Judging file, network and MCP actions against compiled layers (exec is in `execeval.py`)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

from policies.actions import McpCall
from policies.execmatch import RegexBudget
from policies.layering import Outcome, combine, default_rule, strictest
from policies.mcpargs import ArgRule, Claim, flagged, hints, path_claims, sniffed
from policies.model import DecisionKind
from policies.netrules import TABLE_VERSION, LayerEntry, NetRule, NetRules, NetTable, RuleEntry
from policies.paths import PSEUDO_DEVICES, NormPath, fold_text, normalise
from policies.rules import DECISIONS, Layer, PatternSet, Rule


def builtin(rid: str, decision: DecisionKind, reason: str) -> Rule:
    return Rule(f"builtin:{rid}", decision, "builtin", -1, None, reason, "")


DEFAULT_ASK = builtin("default", "ask", "no rule matches and no layer sets `default`")
OUTSIDE = builtin("outside-workspace", "deny", "the path is outside the workspace")
DEVICE = builtin("pseudo-device", "allow", "harmless pseudo-device")
MCP_UNLISTED = builtin("mcp-unlisted", "deny", "the server is not listed in mcp.servers")
MCP_DESTRUCTIVE = builtin(
    "mcp-destructive", "ask",
    "no tool rule matches and the tool may be destructive (its annotations do not say "
    "read-only or non-destructive)",
)  # fmt: skip


@dataclass(slots=True)
class Judged:
    """An outcome and the words for the thing judged (`reading \\`.env\\``)."""

    outcome: Outcome
    subject: str
    files: list[str] = field(default_factory=list)  # what path arguments were judged as

    @property
    def rule(self) -> Rule:
        assert self.outcome.winner is not None
        return self.outcome.winner


def describe(rule: Rule, subject: str) -> str:
    """Human text for an approval prompt: what, decision, rule, layer, file:line, why."""
    verb = {"allow": "allowed", "ask": "needs approval", "deny": "denied"}[rule.decision]
    if rule.layer == "builtin":
        return f"{subject}: {verb} ({rule.id}: {rule.reason})"
    why = f": {rule.reason}" if rule.reason else f" (matches `{rule.pattern}`)"
    if rule.id == "default":
        why = ": no rule matches, this is the default"
    elif rule.id == "exec_dynamic":
        why = ": dynamic commands are never allowed by a rule"
    return f"{subject}: {verb} by {rule.id} in the {rule.layer} layer ({rule.source}){why}"


def _set_hits(ps: PatternSet, exact: str, folded: str, everything: bool) -> list[Rule]:
    if everything:
        return ps.all("deny", folded) + ps.all("ask", folded) + ps.all("allow", exact)
    hit = ps.first("deny", folded) or ps.first("ask", folded) or ps.first("allow", exact)
    return [hit] if hit else []


def judge_path(
    layers: Sequence[Layer], op: str, path: str, cwd: str = ".", everything: bool = False
) -> Judged:
    """`op` is "read" or "write"; `everything` collects every matching rule (explain)."""
    verb = "reading" if op == "read" else "writing"
    n: NormPath = normalise(path, cwd)
    subject = f"{verb} `{n.exact}`" if not n.error else f"{verb} `{path[:80]}`"
    if n.error:
        return Judged(Outcome(builtin("bad-path", "deny", n.error)), subject)
    if n.exact in PSEUDO_DEVICES:
        return Judged(Outcome(DEVICE), subject)
    hits = [_set_hits(lay.files[op], n.exact, n.folded, everything) for lay in layers]
    if n.absolute:
        fallback = OUTSIDE
        out = combine(layers, hits, lambda _lay: OUTSIDE, OUTSIDE)
    else:
        fallback = default_rule(layers, DEFAULT_ASK)
        out = combine(layers, hits, lambda lay: lay.default or DEFAULT_ASK, fallback)
    return Judged(out, subject)


def network_table(layers: Sequence[Layer]) -> NetTable:
    """The layers' network rules as the JSON table `policies.netrules` evaluates (the
    egress proxy gets exactly this)."""
    out: list[LayerEntry] = []
    for lay in layers:
        rules: list[RuleEntry] = [
            {"id": rule.id, "decision": rule.decision, "pattern": rule.pattern,
             "source": rule.source, "reason": rule.reason}
            for decision in DECISIONS
            for _rx, rule in lay.network.items[decision]
        ]  # fmt: skip
        out.append({"name": lay.name, "lock": lay.lock, "rules": rules})
    return {"version": TABLE_VERSION, "layers": out}


def mcp_network_table(layers: Sequence[Layer], server: str) -> NetTable | None:
    """The network table of MCP server `server`'s own container: every layer's deny and
    ask rules (they bind the server too) with, as the only allows, the hosts that layer's
    `mcp.servers.SERVER.network` lists. None when no layer lists a host (no network)."""
    if not any(lay.mcp_network.get(server) for lay in layers):
        return None
    out: list[LayerEntry] = []
    for lay in layers:
        rules: list[RuleEntry] = [
            {"id": rule.id, "decision": rule.decision, "pattern": rule.pattern,
             "source": rule.source, "reason": rule.reason}
            for decision in ("ask", "deny")
            for _rx, rule in lay.network.items[decision]
        ]  # fmt: skip
        rules += [
            {"id": rule.id, "decision": "allow", "pattern": rule.pattern,
             "source": rule.source, "reason": rule.reason}
            for rule in lay.mcp_network.get(server, [])
        ]  # fmt: skip
        out.append({"name": lay.name, "lock": lay.lock, "rules": rules})
    return {"version": TABLE_VERSION, "layers": out}


def mcp_workspace(layers: Sequence[Layer], server: str) -> str:
    """How the server sees the workspace: the strictest of the layers that list it."""
    order = ["none", "ro", "rw"]
    modes = [lay.mcp_workspace[server] for lay in layers if server in lay.mcp_workspace]
    return min(modes, key=order.index) if modes else "none"


def _as_rule(layers: Sequence[Layer], net: NetRule) -> Rule:
    if net.builtin:
        return builtin(net.id.removeprefix("builtin:"), net.decision, net.reason or "")
    lay = layers[net.layer]
    return next(r for _rx, r in lay.network.items[net.decision] if r.id == net.id)


def judge_net(
    layers: Sequence[Layer], rules: NetRules, host: str, port: int, everything: bool = False
) -> Judged:
    """`rules` is `NetRules(network_table(layers))`: the proxy's code, on the proxy's table."""
    net = rules.judge(host, port, everything)
    subject = f"connecting to `{net.name}:{port}`" if net.name else f"connecting to {host!r}"
    out = Outcome(_as_rule(layers, net.winner))
    out.hits = [_as_rule(layers, r) for r in net.hits]
    out.ignored = [(_as_rule(layers, r), why) for r, why in net.ignored]
    return Judged(out, subject)


def judge_mcp_start(layers: Sequence[Layer], server: str) -> Judged:
    hits = [[lay.mcp_servers[server]] if server in lay.mcp_servers else [] for lay in layers]
    out = combine(layers, hits, lambda _lay: MCP_UNLISTED, MCP_UNLISTED)
    return Judged(out, f"starting MCP server `{server}`")


def _exact_mcp(pattern: str) -> bool:
    return not any(ch in pattern for ch in "*?[")


def _fitting(
    lay: Layer, rules: list[Rule], call: McpCall, tool_hints: dict[str, bool],
    budget: RegexBudget, ignored: list[tuple[Rule, str]],
) -> list[Rule]:  # fmt: skip
    """The rules whose `when`, `arguments` and `allowed_keys` fit the call."""
    out = []
    for rule in rules:
        args = lay.mcp_args.get(rule.id)
        why = None
        if args is not None:
            why = args.mismatch(call.arguments, tool_hints, rule.decision == "allow", budget)
        if why is None:
            out.append(rule)
        else:
            ignored.append((rule, why))
    return out


def _arg_rules(layers: Sequence[Layer], key: str, folded: str) -> list[ArgRule]:
    """The argument specs of every tool rule whose glob names the tool (path kinds)."""
    out = []
    for lay in layers:
        for decision in DECISIONS:
            for rx, rule in lay.mcp_tools.items[decision]:
                args = lay.mcp_args.get(rule.id)
                if args is not None and (rx.fullmatch(key) or rx.fullmatch(folded)):
                    out.append(args)
    return out


def judge_mcp_call(layers: Sequence[Layer], call: McpCall, everything: bool = False) -> Judged:
    server, tool = call.server, call.tool
    start = judge_mcp_start(layers, server)
    subject = f"calling MCP tool `{server}.{tool}`"
    if start.rule.decision == "deny":
        return Judged(start.outcome, subject)
    key = f"{server}.{tool}"
    folded = fold_text(key)  # deny/ask rules are case-folded, like exec deny rules
    tool_hints = hints(call.annotations)
    budget = RegexBudget()
    ignored: list[tuple[Rule, str]] = []
    hits: list[list[Rule]] = []
    for lay in layers:
        ps = lay.mcp_tools
        fit = functools.partial(
            _fitting, lay, call=call, tool_hints=tool_hints, budget=budget, ignored=ignored
        )
        denies, asks, allows = fit(ps.all("deny", folded)), fit(ps.all("ask", folded)), fit(
            ps.all("allow", key))  # fmt: skip
        if any(r.pattern == key for r in allows):
            # `git.git_log: allow` next to `git.*: ask` (issue 3's example): a rule naming the
            # exact tool carves it out of a wildcard ask of the same layer. Never out of a
            # deny, nor out of an ask that names the tool exactly.
            asks = [r for r in asks if _exact_mcp(r.pattern)]
        if everything:
            hits.append(denies + asks + allows)
        else:
            hits.append((denies or asks or allows)[:1])
    fallback = default_rule(layers, DEFAULT_ASK)

    def floor(rule: Rule) -> Rule:  # an unmatched destructive tool is asked about at least
        return MCP_DESTRUCTIVE if tool_hints["destructive"] and rule.rank < 1 else rule

    out = combine(layers, hits, lambda lay: floor(lay.default or DEFAULT_ASK), floor(fallback))
    out.hits = [*start.outcome.hits, *out.hits]
    out.ignored = [*ignored, *out.ignored]
    judged = Judged(out, subject)
    arg_rules = _arg_rules(layers, key, folded)
    for claim in path_claims(arg_rules, call.arguments, tool_hints):
        _judge_claim(layers, claim, judged, everything)
    for name, text in sniffed(call.arguments, flagged(arg_rules)):
        _judge_sniffed(layers, name, text, judged)
    return judged


def _judge_sniffed(layers: Sequence[Layer], name: str, text: str, judged: Judged) -> None:
    """An unflagged string that names a path a files.read deny/ask rule protects."""
    sub = judge_path(layers, "read", text)
    rule = sub.rule
    if rule.decision == "allow" or rule.layer == "builtin" or rule.id == "default":
        return
    sub.subject = f"argument `{name[:80]}` names a protected path, {sub.subject}"
    _merge(judged, sub)


def _judge_claim(layers: Sequence[Layer], claim: Claim, judged: Judged, everything: bool) -> None:
    """A file an argument names competes with the tool rules (only a non-allow counts)."""
    what = f"argument `{claim.argument}`"
    if claim.error is not None:
        rule = builtin(claim.code, "deny", claim.error)
        sub = Judged(Outcome(rule, [rule]), what)
    else:
        sub = judge_path(layers, claim.op, claim.path, claim.cwd, everything)
        sub.subject = f"{what} means {sub.subject}"
    _merge(judged, sub)


def _merge(judged: Judged, sub: Judged) -> None:
    line = describe(sub.rule, sub.subject)
    if line not in judged.files:
        judged.files.append(line)
    if sub.rule.decision == "allow":
        return
    if sub.rule not in judged.outcome.hits:
        judged.outcome.hits.append(sub.rule)
    judged.outcome.ignored.extend(x for x in sub.outcome.ignored if x not in judged.outcome.ignored)
    if sub.rule.rank > judged.rule.rank:
        judged.outcome.winner = sub.rule
        judged.subject = f"{judged.subject}: {sub.subject}"


__all__ = [
    "Judged", "builtin", "describe", "judge_net", "judge_path", "network_table", "strictest"
]  # fmt: skip
