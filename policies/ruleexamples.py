"""A rule's `examples: {match: [...], not_match: [...]}`, checked when the policy loads.

`match` examples must be matched by the rule itself (not merely end in its decision), and
`not_match` examples must not be. For exec rules an example is a shell command and the rule
matches when it matches any simple command in it, wrapped commands included.
"""

from __future__ import annotations

import json
import re

from policies.execmatch import MAYBE, YES, RegexBudget, match_level
from policies.gitargs import without_globals
from policies.hosts import parse_host
from policies.interpreters import code_reason
from policies.mcpargs import ArgRule, hints
from policies.paths import fold_text, normalise
from policies.rules import ExecPattern, Layer, PatternSet
from policies.schema import Examples, McpExample, McpExampleEntry, PathEntry, PolicyFile
from policies.shell import LIT, MAX_COMMAND, Tok, parse_command
from policies.wrappers import MAX_UNWRAP, analyse, command_name
from policies.yamlstrict import Doc, Path


def _argvs(command: str) -> list[tuple[list[Tok], bool]]:
    """Every argv in `command` (wrapped ones too), with whether it is dynamic."""
    out: list[tuple[list[Tok], bool]] = []
    if len(command) > MAX_COMMAND:
        return out
    todo = [(seg.argv, seg.dynamic is not None, 0) for seg in parse_command(command) if seg.argv]
    while todo:
        argv, dyn, depth = todo.pop()
        if argv[0].kind == LIT:
            analysis = analyse(argv)
            dyn = dyn or code_reason(argv) is not None or analysis.dynamic is not None
            if depth < MAX_UNWRAP:
                todo.extend((inner, False, depth + 1) for inner, _ in analysis.inner)
        out.append((argv, dyn))
        if argv[0].kind == LIT and fold_text(command_name(argv[0].text)) == "git":
            bare = without_globals(argv)  # deny/ask rules also see `git push` in `git -C . push`
            if bare is not None:
                out.append((bare, True))
    return out


def exec_matches(ep: ExecPattern, command: str) -> bool:
    for argv, dyn in _argvs(command):
        exact = [command_name(argv[0].text), *(t.text for t in argv[1:])]
        if ep.rule.decision == "allow":
            if not dyn and match_level(ep.toks, argv, exact, ep.exact, False) == YES:
                return True
        elif match_level(ep.toks, argv, [fold_text(t) for t in exact], ep.exact, True) >= MAYBE:
            return True
    return False


def _rx(ps: PatternSet, rid: str) -> re.Pattern[str] | None:
    for items in ps.items.values():
        for rx, rule in items:
            if rule.id == rid:
                return rx
    return None


def _check(doc: Doc, path: Path, examples: Examples | None, matches: object) -> None:
    if examples is None:
        return
    assert callable(matches)
    for field, want in (("match", True), ("not_match", False)):
        for k, example in enumerate(getattr(examples, field)):
            if bool(matches(example)) != want:
                verb = "does not match" if want else "matches"
                doc.problem((*path, "examples", field, k), f"example `{example}` {verb} this rule")


def _path_matcher(rx: re.Pattern[str], decision: str) -> object:
    def matches(example: str) -> bool:
        n = normalise(example)
        return (
            not n.error and rx.fullmatch(n.exact if decision == "allow" else n.folded) is not None
        )

    return matches


def _net_matcher(rx: re.Pattern[str]) -> object:
    def matches(example: str) -> bool:
        host, _, port = example.rpartition(":") if example.count(":") == 1 else (example, "", "")
        try:
            h = parse_host(host or example)
        except ValueError:
            return False
        return rx.fullmatch(h.key(int(port) if port.isdigit() else 443)) is not None

    return matches


def check_examples(layer: Layer, policy: PolicyFile, doc: Doc) -> None:
    """Report every failing example of every rule into `doc`."""
    for ep in layer.exec_all:
        index = int(ep.rule.id[5:-1])
        spec = policy.exec[index]
        _check(doc, ("exec", index), spec.examples,
               lambda c, ep=ep: exec_matches(ep, c))  # fmt: skip
    for op in ("read", "write"):
        lists = getattr(policy.files, op)
        for decision in ("allow", "ask", "deny"):
            entries: list[PathEntry] = getattr(lists, decision)
            for i, entry in enumerate(entries):
                rx = _rx(layer.files[op], f"files.{op}.{decision}[{i}]")
                if isinstance(entry, str) or rx is None:
                    continue
                _check(doc, ("files", op, decision, i), entry.examples,
                       _path_matcher(rx, decision))  # fmt: skip
    for decision in ("allow", "ask", "deny"):
        for i, entry in enumerate(getattr(policy.network, decision)):
            rx = _rx(layer.network, f"network.{decision}[{i}]")
            if isinstance(entry, str) or rx is None:
                continue
            _check(doc, ("network", decision, i), entry.examples, _net_matcher(rx))
    for i, tool in enumerate(policy.mcp.tools):
        rx = _rx(layer.mcp_tools, f"mcp.tools[{i}]")
        if rx is not None and tool.examples is not None:
            args = layer.mcp_args.get(f"mcp.tools[{i}]")
            for field, want in (("match", True), ("not_match", False)):
                for k, example in enumerate(getattr(tool.examples, field)):
                    if _mcp_matches(rx, args, tool.decision, example) != want:
                        verb = "does not match" if want else "matches"
                        shown = example if isinstance(example, str) else json.dumps(
                            example.model_dump(exclude_none=True), ensure_ascii=False)  # fmt: skip
                        doc.problem(("mcp", "tools", i, "examples", field, k),
                                    f"example `{shown[:200]}` {verb} this rule")  # fmt: skip


def _mcp_matches(
    rx: re.Pattern[str], args: ArgRule | None, decision: str, example: McpExampleEntry
) -> bool:
    """Whether the rule itself (tool glob, `when`, arguments, allowed_keys) fits the call."""
    call = McpExample(tool=example) if isinstance(example, str) else example
    fold = decision != "allow"
    if rx.fullmatch(fold_text(call.tool) if fold else call.tool) is None:
        return False
    if args is None:
        return True
    why = args.mismatch(call.arguments, hints(call.annotations), not fold, RegexBudget())
    return why is None
