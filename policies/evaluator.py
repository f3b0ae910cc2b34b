"""`PolicySet`: the loaded layers and the one entry point, `evaluate(action) -> Decision`."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from policies.actions import Action, Exec, FsRead, FsWrite, McpCall, McpStart, NetConnect
from policies.errors import PolicyLoadError, Problem
from policies.execeval import ExecJudge, Trace
from policies.judge import (
    Judged,
    describe,
    judge_mcp_call,
    judge_mcp_start,
    judge_net,
    judge_path,
    mcp_network_table,
    mcp_workspace,
    network_table,
)
from policies.layering import default_rule, dynamic_rule, runtime_choice
from policies.loader import compile_text
from policies.model import RANK, Decision, DecisionKind, LayerInfo, Limits, RuntimeChoice
from policies.netrules import NetRules, NetTable
from policies.rules import Layer, Rule
from policies.yamlstrict import MAX_BYTES

EXEC_CACHE_SIZE = 4096

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNITS = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def memory_bytes(text: str) -> float:
    unit = text[-1].lower() if text[-1].isalpha() else "b"
    number = text[:-1] if text[-1].isalpha() else text
    return float(number) * _UNITS[unit]


def _decision(rule: Rule, reason: str, traces: list[Trace] | None = None) -> Decision:
    builtin = rule.layer == "builtin"
    return Decision(
        decision=rule.decision, rule=rule.id, layer=None if builtin else rule.layer,
        source=rule.source, reason=reason,
        segments=[t.decision() for t in traces] if traces else [],
    )  # fmt: skip


class PolicySet:
    """Loaded policy layers (org, project, user, ... in that order)."""

    def __init__(self, layers: list[Layer], warnings: list[Problem]) -> None:
        self._layers = layers
        self.warnings = warnings
        self.layers: list[LayerInfo] = [lay.info for lay in layers]
        self._exec = ExecJudge(layers)
        # A PolicySet never changes after load, so an exec decision is a pure function of
        # (command, cwd): agents repeat commands (tests, git status), parse them once.
        self._exec_cache: OrderedDict[tuple[str, str], Decision] = OrderedDict()
        self.exec_dynamic: DecisionKind = self._exec.dynamic.decision
        self.limits = self._limits()
        self.env_passthrough = self._env()
        self.runtime: RuntimeChoice = runtime_choice(layers)
        self.net = NetRules(self.network_table())
        self.network_allow = self._network_allow()

    @classmethod
    def load(cls, files: Sequence[tuple[str, Path]]) -> PolicySet:
        """Load `(layer name, path)` pairs; raise `PolicyLoadError` listing every problem."""
        docs: list[tuple[str, str, str]] = []
        problems: list[Problem] = []
        for name, path in files:
            try:
                if path.stat().st_size > MAX_BYTES:
                    problems.append(Problem(str(path), 1, 1, "file is larger than 1 MiB"))
                    continue
                docs.append((name, str(path), path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(Problem(str(path), 1, 1, f"cannot read policy file: {exc}"))
        if problems:
            raise PolicyLoadError(problems)
        return cls.from_texts(docs)

    @classmethod
    def from_texts(cls, docs: Sequence[tuple[str, str, str]]) -> PolicySet:
        """Load `(layer name, source name, YAML text)` triples (tests, the agent, `check`)."""
        if not docs:
            raise PolicyLoadError([Problem("<none>", 1, 1, "no policy files given")])
        layers: list[Layer] = []
        problems: list[Problem] = []
        for index, (name, source, text) in enumerate(docs):
            layer, doc = compile_text(name, index, source, text)
            problems.extend(doc.problems)
            if layer is not None:
                layers.append(layer)
        if any(p.severity == "error" for p in problems):
            raise PolicyLoadError(problems)
        return cls(layers, problems)

    @property
    def compiled(self) -> list[Layer]:
        return self._layers

    def evaluate(self, action: Action) -> Decision:
        """The decision for one action (never raises for a valid action)."""
        if isinstance(action, Exec):
            key = (action.command, action.cwd)
            cached = self._exec_cache.get(key)
            if cached is not None:
                self._exec_cache.move_to_end(key)
                return cached
            traces = self.exec_traces(action)
            best = max(traces, key=lambda t: RANK[t.rule.decision])
            decision = _decision(best.rule, best.reason, traces)
            self._exec_cache[key] = decision
            if len(self._exec_cache) > EXEC_CACHE_SIZE:
                self._exec_cache.popitem(last=False)
            return decision
        judged = self.judge(action)
        return _decision(judged.rule, describe(judged.rule, judged.subject))

    def exec_traces(self, action: Exec) -> list[Trace]:
        return self._exec.judge(action.command, action.cwd)

    def judge(self, action: Action, everything: bool = False) -> Judged:
        """Non-exec actions: the outcome with every matching rule when `everything`."""
        layers = self._layers
        if isinstance(action, FsRead | FsWrite):
            op = "read" if isinstance(action, FsRead) else "write"
            return judge_path(layers, op, action.path, everything=everything)
        if isinstance(action, NetConnect):
            return judge_net(layers, self.net, action.host, action.port, everything)
        if isinstance(action, McpStart):
            return judge_mcp_start(layers, action.server)
        if isinstance(action, McpCall):
            return judge_mcp_call(layers, action, everything)
        raise TypeError(f"not a judged action: {action!r}")

    def network_table(self) -> NetTable:
        """Every layer's network rules and locks, JSON-serialisable: what the egress proxy
        evaluates with `policies.netrules`, the same code `evaluate(NetConnect)` runs."""
        return network_table(self._layers)

    def mcp_network_table(self, server: str) -> NetTable | None:
        """The network table of MCP server `server`'s own container (None: no network)."""
        return mcp_network_table(self._layers, server)

    def mcp_workspace(self, server: str) -> str:
        """`none`, `ro` or `rw`: how MCP server `server` sees the workspace."""
        return mcp_workspace(self._layers, server)

    def explain(self, action: Action) -> str:
        from policies.explain import explain

        return explain(self, action)

    def default_rule(self) -> Rule:
        return default_rule(self._layers, self._exec.default)

    def dynamic_rule(self) -> Rule:
        return dynamic_rule(self._layers, self._exec.dynamic)

    def _limits(self) -> Limits:
        values: dict[str, float | int | str] = {}
        for lay_doc in self._specs():
            for key, value in lay_doc.items():
                if value is None:
                    continue
                current = values.get(key)
                if current is None:
                    values[key] = value
                elif key in ("memory", "disk"):
                    if memory_bytes(str(value)) < memory_bytes(str(current)):
                        values[key] = value
                elif float(value) < float(current):
                    values[key] = value
        if "cpus" in values:
            values["cpus"] = float(values["cpus"])
        if "timeout_s" in values:
            values["timeout_s"] = float(values["timeout_s"])
        return Limits.model_validate(values)

    def _specs(self) -> list[dict[str, float | int | str | None]]:
        return [lay.limits for lay in self._layers]

    def _env(self) -> list[str]:
        names: list[str] = []
        locked: set[str] | None = None
        for lay in self._layers:
            for name in lay.env:
                fits = locked is None or name in locked
                if fits and _ENV_NAME.fullmatch(name) and name not in names:
                    names.append(name)
            if lay.lock and locked is None:
                locked = set(lay.env)
        return names

    def _network_allow(self) -> list[str]:
        """Allow patterns that still allow something (probed on one port): for display
        only. The proxy never sees these; it evaluates `network_table()` in full."""
        out: list[str] = []
        for lay in self._layers:
            for _rx, rule in lay.network.items["allow"]:
                pattern = rule.pattern
                host, _, port = pattern.rpartition(":") if pattern.count(":") == 1 else (
                    pattern, "", "")  # fmt: skip
                host = host or pattern
                if host.startswith("["):
                    host, port = pattern.split("]")[0] + "]", pattern.split("]:")[-1]
                probe = "rempart-probe." + host[2:] if host.startswith("*.") else host
                probe = "rempart-probe.invalid" if host == "*" else probe
                number = int(port) if port.isdigit() else 443
                judged = judge_net(self._layers, self.net, probe, number)
                if judged.rule.decision == "allow" and pattern not in out:
                    out.append(pattern)
        return out
