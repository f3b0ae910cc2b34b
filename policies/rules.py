"""One policy file compiled for fast evaluation: a `Layer`.

String-keyed rules (paths, hosts, MCP tools) are compiled into one alternation regex per
decision, so `evaluate` asks the C regex engine once per decision and layer; exec rules are
indexed by their (folded) command name.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from policies import hosts
from policies.execmatch import (
    DSTAR,
    LITERAL,
    PATTERN,
    STAR,
    PTok,
    compile_token,
    is_simple,
    regex_risk,
)
from policies.globs import GlobError, path_regex, token_regex
from policies.interpreters import SHELL_BUILTINS
from policies.mcpargs import ArgCheck, ArgRule
from policies.model import RANK, DecisionKind, LayerInfo, RuntimeKind
from policies.paths import fold_text, normalise_pattern
from policies.schema import (
    GlobToken,
    HostEntry,
    McpToolRule,
    PathEntry,
    PathRule,
    PolicyFile,
    RegexToken,
)
from policies.yamlstrict import Doc, Path

DECISIONS: tuple[DecisionKind, ...] = ("deny", "ask", "allow")


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    decision: DecisionKind
    layer: str
    index: int
    source: str | None
    reason: str | None
    pattern: str

    @property
    def rank(self) -> int:
        return RANK[self.decision]


class PatternSet:
    """Rules over strings: `first(decision, key)` is one regex call per decision."""

    def __init__(self) -> None:
        self.items: dict[str, list[tuple[re.Pattern[str], Rule]]] = {d: [] for d in DECISIONS}
        self._sources: dict[str, list[str]] = {d: [] for d in DECISIONS}
        self._combined: dict[str, re.Pattern[str] | None] = {}

    def add(self, regex: str, rule: Rule) -> None:
        self.items[rule.decision].append((re.compile(regex, re.DOTALL), rule))
        self._sources[rule.decision].append(regex)

    def build(self) -> None:
        for d in DECISIONS:
            srcs = self._sources[d]
            joined = "|".join(f"(?P<r{i}>{s})" for i, s in enumerate(srcs))
            self._combined[d] = re.compile(joined, re.DOTALL) if srcs else None

    def first(self, decision: str, key: str) -> Rule | None:
        rx = self._combined.get(decision)
        if rx is None:
            return None
        m = rx.fullmatch(key)
        if m is None or m.lastgroup is None:
            return None
        return self.items[decision][int(m.lastgroup[1:])][1]

    def all(self, decision: str, key: str) -> list[Rule]:
        return [rule for rx, rule in self.items[decision] if rx.fullmatch(key)]


@dataclass(slots=True)
class ExecPattern:
    rule: Rule
    toks: list[PTok]
    exact: bool
    simple: bool = False


@dataclass(slots=True)
class Layer:
    name: str
    index: int
    path: str
    sha256: str
    lock: bool
    default: Rule | None = None
    exec_dynamic: Rule | None = None
    files: dict[str, PatternSet] = field(default_factory=dict)
    probes: list[tuple[str, bool]] = field(default_factory=list)  # read deny/ask patterns
    write_probes: list[tuple[str, bool]] = field(default_factory=list)  # write deny/ask
    exec_index: dict[str, list[ExecPattern]] = field(default_factory=dict)
    exec_wild: list[ExecPattern] = field(default_factory=list)
    # exec_index narrowed by the argv's second word (built at load, see `index_exec`):
    # (name, folded word) -> the name's rules whose second token is that literal or not a
    # literal at all, in rule order; exec_any_arg[name]: only the latter
    exec_by_arg: dict[tuple[str, str], list[ExecPattern]] = field(default_factory=dict)
    exec_any_arg: dict[str, list[ExecPattern]] = field(default_factory=dict)
    exec_all: list[ExecPattern] = field(default_factory=list)
    network: PatternSet = field(default_factory=PatternSet)
    mcp_servers: dict[str, Rule] = field(default_factory=dict)
    mcp_tools: PatternSet = field(default_factory=PatternSet)
    mcp_args: dict[str, ArgRule] = field(default_factory=dict)  # by rule id
    mcp_network: dict[str, list[Rule]] = field(default_factory=dict)  # allow rules per server
    mcp_workspace: dict[str, str] = field(default_factory=dict)  # none | ro | rw per server
    limits: dict[str, float | int | str | None] = field(default_factory=dict)
    env: list[str] = field(default_factory=list)
    runtime: tuple[RuntimeKind, str] | None = None  # (`sandbox.runtime`, its file:line)

    @property
    def info(self) -> LayerInfo:
        return LayerInfo(name=self.name, path=self.path, sha256=self.sha256)

    def exec_candidates(self, folded_name: str, second: str | None = None) -> list[ExecPattern]:
        """The rules that may match a command named `folded_name`; with `second` (the
        folded second word, given only when argv[0] and argv[1] are literal), without the
        rules whose second token is another literal (they cannot match)."""
        if second is None or folded_name not in self.exec_index:
            return self.exec_index.get(folded_name, []) + self.exec_wild
        narrowed = self.exec_by_arg.get((folded_name, second))
        if narrowed is None:
            narrowed = self.exec_any_arg[folded_name]
        return narrowed + self.exec_wild

    def index_exec(self) -> None:
        """Build `exec_by_arg`/`exec_any_arg` from `exec_index` (once, at load)."""
        for name, patterns in self.exec_index.items():
            literal = {p.toks[1].folded for p in patterns if _literal_second(p)}
            self.exec_any_arg[name] = [p for p in patterns if not _literal_second(p)]
            for word in literal:
                self.exec_by_arg[(name, word)] = [
                    p for p in patterns if not _literal_second(p) or p.toks[1].folded == word
                ]


def _literal_second(pattern: ExecPattern) -> bool:
    return len(pattern.toks) > 1 and pattern.toks[1].kind == LITERAL


def _entry(e: PathEntry | HostEntry) -> tuple[str, str | None]:
    if isinstance(e, str):
        return (e, None)
    return (e.path, e.reason) if isinstance(e, PathRule) else (e.host, e.reason)


def file_regex(pattern: str, decision: str) -> str:
    """Regex over normalised paths (folded for deny/ask) for one files pattern."""
    norm = normalise_pattern(pattern)
    p = fold_text(norm) if decision != "allow" else norm
    body = path_regex(p)
    absolute = p.startswith("/")
    prefix = "(?:.*/)?" if not absolute and "/" not in p and p != "**" else ""
    suffix = "" if p == "**" or p.endswith("/**") else "(?:/.*)?"
    anchor = "(?!/)" if decision == "allow" and not absolute else ""
    return anchor + prefix + body + suffix


def _probe(pattern: str) -> tuple[str, bool]:
    p = fold_text(normalise_pattern(pattern))
    floating = "/" not in p or p.startswith("**/")
    p = p.replace("**/", "").replace("/**", "").replace("**", "x")
    p = re.sub(r"\[!?\^?(.)[^\]]*\]", r"\1", p).replace("*", "x").replace("?", "x")
    return (p.rsplit("/", 1)[-1] if floating else p, floating)


_PUBLIC_SUFFIX = re.compile(r"\*\.[^.*:\[\]]+\.?")  # `*.com`: every host under a TLD
_COMMAND_SAMPLES = ("rm", "bash", "curl", "python3", "x")


def _matches_any_command(tok: PTok) -> bool:
    """`*`, `**`, `{glob: "*"}`, `{regex: ".*"}`: a first token that matches any command."""
    if tok.kind in (STAR, DSTAR):
        return True
    if tok.kind != PATTERN or tok.rx_exact is None:
        return False
    rx = tok.rx_exact
    return all(rx.fullmatch(s) is not None for s in _COMMAND_SAMPLES)


class Compiler:
    """Builds a `Layer` from a validated file, reporting problems into the `Doc`."""

    def __init__(self, name: str, index: int, doc: Doc, policy: PolicyFile, text: str) -> None:
        self.doc = doc
        self.policy = policy
        sha = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        self.layer = Layer(name, index, doc.source, sha, policy.lock)

    def rule(self, path: Path, rid: str, decision: DecisionKind, reason: str | None,
             pattern: str) -> Rule:  # fmt: skip
        line = self.doc.where(path)[0]
        return Rule(rid, decision, self.layer.name, self.layer.index,
                    f"{self.doc.source}:{line}", reason, pattern)  # fmt: skip

    def compile(self) -> Layer:
        pol, lay = self.policy, self.layer
        lay.limits = pol.limits.model_dump()
        lay.env = list(pol.sandbox.env)
        if pol.sandbox.runtime is not None:
            line = self.doc.where(("sandbox", "runtime"))[0]
            lay.runtime = (pol.sandbox.runtime, f"{self.doc.source}:{line}")
        if pol.default is not None:
            lay.default = self.rule(("default",), "default", pol.default, None, "default")
        if pol.exec_dynamic is not None:
            lay.exec_dynamic = self.rule(
                ("exec_dynamic",), "exec_dynamic", pol.exec_dynamic, None, "exec_dynamic"
            )
        for op in ("read", "write"):
            lay.files[op] = self.files(op)
        self.exec_rules()
        lay.index_exec()
        self.network()
        self.mcp()
        return lay

    def files(self, op: str) -> PatternSet:
        ps = PatternSet()
        lists = getattr(self.policy.files, op)
        for decision in DECISIONS:
            for i, entry in enumerate(getattr(lists, decision)):
                pattern, reason = _entry(entry)
                path: Path = ("files", op, decision, i)
                try:
                    rx = file_regex(pattern, decision)
                except (ValueError, GlobError) as exc:
                    self.doc.problem(path, f"bad path pattern `{pattern}`: {exc}")
                    continue
                rid = f"files.{op}.{decision}[{i}]"
                ps.add(rx, self.rule(path, rid, decision, reason, pattern))
                if decision != "allow":
                    probes = self.layer.probes if op == "read" else self.layer.write_probes
                    probes.append(_probe(pattern))
                broad = pattern in ("**", "/**", "*", "/**/*", "**/*")
                if decision == "allow" and op == "write" and broad and isinstance(entry, str):
                    self.doc.problem(path, f"over-broad allow `{pattern}`", warn=True)
        ps.build()
        return ps

    def exec_rules(self) -> None:
        for i, spec in enumerate(self.policy.exec):
            path: Path = ("exec", i)
            try:
                toks = [compile_token(t, k == 0) for k, t in enumerate(spec.match)]
            except ValueError as exc:
                self.doc.problem(path, f"bad exec pattern: {exc}")
                continue
            shown = " ".join(t.exact for t in toks)
            ep = ExecPattern(self.rule(path, f"exec[{i}]", spec.decision, spec.reason, shown),
                             toks, spec.exact, is_simple(toks))  # fmt: skip
            self.layer.exec_all.append(ep)
            first = toks[0]
            if first.kind == LITERAL:
                self.layer.exec_index.setdefault(first.folded, []).append(ep)
            else:
                self.layer.exec_wild.append(ep)
                if spec.decision == "allow" and _matches_any_command(first):
                    self.doc.problem(path, f"over-broad exec allow `{shown}`", warn=True)
            for tok in spec.match:
                risk = regex_risk(tok.regex) if isinstance(tok, RegexToken) else None
                if risk and isinstance(tok, RegexToken):
                    self.doc.problem(path, f"`{tok.regex}`: {risk}", warn=True)
            if first.kind == LITERAL and first.exact == "":
                self.doc.problem(path, "an empty command name can never match")
            if spec.decision == "allow" and first.folded in SHELL_BUILTINS:
                self.doc.problem(
                    path, f"`{first.exact}` is always dynamic: this allow never applies", warn=True
                )

    def network(self) -> None:
        for decision in DECISIONS:
            for i, entry in enumerate(getattr(self.policy.network, decision)):
                pattern, reason = _entry(entry)
                path: Path = ("network", decision, i)
                try:
                    rx = hosts.pattern_regex(pattern)
                except ValueError as exc:
                    self.doc.problem(path, f"bad host pattern `{pattern}`: {exc}")
                    continue
                rid = f"network.{decision}[{i}]"
                self.layer.network.add(rx, self.rule(path, rid, decision, reason, pattern))
                host = pattern.rsplit(":", 1)[0] if pattern.count(":") == 1 else pattern
                if decision == "allow" and (host == "*" or _PUBLIC_SUFFIX.fullmatch(host)):
                    self.doc.problem(path, f"over-broad network allow `{pattern}`", warn=True)
        self.layer.network.build()

    def mcp(self) -> None:
        for server, spec in self.policy.mcp.servers.items():
            path: Path = ("mcp", "servers", server)
            rid = f"mcp.servers.{server}"
            self.layer.mcp_servers[server] = self.rule(
                path, rid, spec.decision, spec.reason, server
            )
            self.layer.mcp_workspace[server] = spec.workspace
            allowed = self.layer.mcp_network.setdefault(server, [])
            for i, entry in enumerate(spec.network):
                pattern, reason = _entry(entry)
                where: Path = ("mcp", "servers", server, "network", i)
                try:
                    hosts.pattern_regex(pattern)
                except ValueError as exc:
                    self.doc.problem(where, f"bad host pattern `{pattern}`: {exc}")
                    continue
                allowed.append(self.rule(where, f"{rid}.network[{i}]", "allow", reason, pattern))
        for i, tool in enumerate(self.policy.mcp.tools):
            path = ("mcp", "tools", i)
            if "." not in tool.match:
                self.doc.problem(path, f"`{tool.match}` can never match: write `server.tool`")
                continue
            try:
                # deny/ask match case-folded names (`git.GIT_PUSH`), allow stays exact
                text = tool.match if tool.decision == "allow" else fold_text(tool.match)
                rx = token_regex(text).pattern
            except GlobError as exc:
                self.doc.problem(path, f"bad tool pattern: {exc}")
                continue
            rule = self.rule(path, f"mcp.tools[{i}]", tool.decision, tool.reason, tool.match)
            args = self.mcp_args(path, tool)
            if args is None:
                continue
            if args.checks or args.when or args.allowed is not None:
                self.layer.mcp_args[rule.id] = args
            self.layer.mcp_tools.add(rx, rule)
            server = tool.match.split(".", 1)[0]
            if "*" not in server and "?" not in server and server not in self.policy.mcp.servers:
                self.doc.problem(
                    path, f"server `{server}` is not in mcp.servers of this file", warn=True
                )
            if tool.decision == "allow" and tool.match in ("*", "*.*"):
                self.doc.problem(path, f"over-broad MCP allow `{tool.match}`", warn=True)
        self.layer.mcp_tools.build()

    def mcp_args(self, path: Path, tool: McpToolRule) -> ArgRule | None:
        """The rule's `when`, `arguments` and `allowed_keys` compiled (None on an error)."""
        checks: list[ArgCheck] = []
        ok = True
        for name, spec in tool.arguments.items():
            where: Path = (*path, "arguments", name)
            try:
                glob = compile_token(GlobToken(glob=spec.glob), False) if spec.glob else None
                regex = compile_token(RegexToken(regex=spec.regex), False) if spec.regex else None
            except ValueError as exc:
                self.doc.problem(where, f"bad argument pattern: {exc}")
                ok = False
                continue
            if spec.regex is not None and (risk := regex_risk(spec.regex)):
                self.doc.problem(where, f"`{spec.regex}`: {risk}", warn=True)
            if spec.min is not None and spec.max is not None and spec.min > spec.max:
                self.doc.problem(where, f"min {spec.min:g} is above max {spec.max:g}: "
                                        "this rule can never match")  # fmt: skip
                ok = False
            if tool.allowed_keys is not None and spec.required and name not in tool.allowed_keys:
                self.doc.problem(where, f"required argument `{name}` is not in allowed_keys: "
                                        "this rule can never match")  # fmt: skip
                ok = False
            kinds = {True: "both", False: "none", None: None}
            kind = spec.path if isinstance(spec.path, str) else kinds[spec.path]
            checks.append(ArgCheck(name, glob, regex, spec.min, spec.max, spec.required, kind))
        given = tool.when.model_dump() if tool.when else {}
        when = tuple((k, v) for k, v in given.items() if v is not None)
        allowed = frozenset(tool.allowed_keys) if tool.allowed_keys is not None else None
        return ArgRule(tuple(checks), allowed, when) if ok else None
