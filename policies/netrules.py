"""The network decision, in one stdlib-only module shared by the evaluator and the proxy.

`PolicySet` evaluates `NetConnect` through `NetRules`, and the egress proxy (a separate
container, standard library only) imports this very file, copied into the sandbox image
next to `policies/hosts.py`, and evaluates the same JSON table. So `rempart policy eval`
and the proxy cannot disagree on a (host, port): they run the same code on the same rules.

The table (`NetTable`) is what `network_table()` in `policies.judge` compiles from the
layers: per layer its name, `lock`, and every network rule (id, decision, pattern, source,
reason) in the order the layer lists them. Semantics (what `judge_net` always did):

- the host is canonicalised (`policies.hosts.parse_host`: case, trailing dot, IDNA,
  brackets, `inet_aton` spellings); a bad host or port is denied;
- in each layer the first matching deny, else ask, else allow rule is that layer's hit
  (`everything=True` collects every matching rule instead, for `explain`);
- the strictest hit over all layers wins (`allow < ask < deny`, ties: earliest layer);
- an allow of a later layer is ignored once an earlier *locked* layer does not allow the
  destination itself (its strictest hit, else the built-in deny);
- no hit: denied (`builtin:network-unlisted`, or `builtin:network-literal` for addresses
  and local names, which only a rule naming them exactly can match).
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypedDict

from policies.hosts import parse_host, pattern_regex

TABLE_VERSION = 1
RULES_ENV = "REMPART_NET_RULES"
Kind = Literal["allow", "ask", "deny"]
RANK: dict[str, int] = {"allow": 0, "ask": 1, "deny": 2}
ORDER: tuple[Kind, ...] = ("deny", "ask", "allow")

BUILTINS: dict[str, str] = {
    "bad-host": "",  # the reason is the parser's message
    "bad-port": "port must be 1-65535",
    "network-unlisted": "destinations not allowed by a rule are denied",
    "network-literal": "IP addresses and local names are denied unless a rule names them exactly",
}


class RuleEntry(TypedDict):
    id: str
    decision: Kind
    pattern: str
    source: str | None
    reason: str | None


class LayerEntry(TypedDict):
    name: str
    lock: bool
    rules: list[RuleEntry]


class NetTable(TypedDict):
    version: int
    layers: list[LayerEntry]


@dataclass(frozen=True, slots=True)
class NetRule:
    """One rule of the table; `layer` is its layer's position in the table."""

    layer: int
    layer_name: str
    id: str
    decision: Kind
    pattern: str
    source: str | None
    reason: str | None

    @property
    def builtin(self) -> bool:
        return self.layer < 0


def _builtin(rid: str, reason: str = "") -> NetRule:
    return NetRule(-1, "builtin", f"builtin:{rid}", "deny", "", None, reason or BUILTINS[rid])


@dataclass(slots=True)
class NetOutcome:
    """The winning rule, every counted hit, and the allows a lock made ineffective."""

    winner: NetRule
    name: str | None  # canonical host name, None when it did not parse
    hits: list[NetRule] = field(default_factory=list)
    ignored: list[tuple[NetRule, str]] = field(default_factory=list)

    @property
    def decision(self) -> Kind:
        return self.winner.decision


@dataclass(slots=True)
class _Layer:
    name: str
    lock: bool
    rules: dict[str, list[tuple[re.Pattern[str], NetRule]]]
    combined: dict[str, re.Pattern[str] | None]

    def first(self, kind: str, key: str) -> NetRule | None:
        rx = self.combined[kind]
        m = rx.fullmatch(key) if rx is not None else None
        if m is None or m.lastgroup is None:
            return None
        return self.rules[kind][int(m.lastgroup[1:])][1]

    def all(self, kind: str, key: str) -> list[NetRule]:
        return [rule for rx, rule in self.rules[kind] if rx.fullmatch(key)]


def _strictest(rules: Iterable[NetRule]) -> NetRule | None:
    best: NetRule | None = None
    for rule in rules:
        if best is None or RANK[rule.decision] > RANK[best.decision]:
            best = rule
    return best


class NetRules:
    """A compiled `NetTable`: `judge(host, port)` is the network decision."""

    def __init__(self, table: Mapping[str, object]) -> None:
        if table.get("version") != TABLE_VERSION or not isinstance(table.get("layers"), list):
            raise ValueError(f"not a version {TABLE_VERSION} network table")
        self.layers: list[_Layer] = []
        layers = table["layers"]
        assert isinstance(layers, list)
        for index, raw in enumerate(layers):
            self.layers.append(self._layer(index, raw))

    @staticmethod
    def _layer(index: int, raw: object) -> _Layer:
        if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list):
            raise ValueError(f"network table: layer {index} is malformed")
        name, lock = str(raw.get("name", "")), raw.get("lock")
        if not isinstance(lock, bool):
            raise ValueError(f"network table: layer {index} has no boolean `lock`")
        rules: dict[str, list[tuple[re.Pattern[str], NetRule]]] = {k: [] for k in ORDER}
        for entry in raw["rules"]:
            kind = entry.get("decision") if isinstance(entry, dict) else None
            if kind not in RANK or not isinstance(entry.get("pattern"), str):
                raise ValueError(f"network table: a rule of layer {index} is malformed")
            rule = NetRule(
                index, name, str(entry["id"]), kind, entry["pattern"],
                entry.get("source"), entry.get("reason"),
            )  # fmt: skip
            rules[kind].append((re.compile(pattern_regex(rule.pattern), re.DOTALL), rule))
        combined: dict[str, re.Pattern[str] | None] = {}
        for kind, items in rules.items():
            joined = "|".join(f"(?P<r{i}>{rx.pattern})" for i, (rx, _r) in enumerate(items))
            combined[kind] = re.compile(joined, re.DOTALL) if items else None
        return _Layer(name, lock, rules, combined)

    def has_allow(self) -> bool:
        """Whether any rule allows anything at all (else no proxy is needed)."""
        return any(lay.rules["allow"] for lay in self.layers)

    def judge(self, host: str, port: int, everything: bool = False) -> NetOutcome:
        try:
            h = parse_host(host)
        except ValueError as exc:
            return NetOutcome(_builtin("bad-host", str(exc)), None)
        if not 0 < port < 65536:
            return NetOutcome(_builtin("bad-port"), h.name)
        key = h.key(port)
        fallback = _builtin("network-literal" if h.literal else "network-unlisted")
        out = NetOutcome(fallback, h.name)
        locked_by: str | None = None
        for lay in self.layers:
            if everything:
                hits = [r for kind in ORDER for r in lay.all(kind, key)]
            else:
                hit = lay.first("deny", key) or lay.first("ask", key) or lay.first("allow", key)
                hits = [hit] if hit else []
            for rule in hits:
                if rule.decision == "allow" and locked_by is not None:
                    why = f"the {locked_by} layer is locked and does not allow this itself"
                    out.ignored.append((rule, why))
                else:
                    out.hits.append(rule)
            if lay.lock and locked_by is None:
                own = _strictest(hits) or fallback
                if own.decision != "allow":
                    locked_by = lay.name
        out.winner = _strictest(out.hits) or fallback
        return out


def encode_table(table: Mapping[str, object]) -> str:
    """The table as the proxy receives it (environment `REMPART_NET_RULES`)."""
    raw = json.dumps(table, separators=(",", ":"), sort_keys=True).encode()
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def decode_table(text: str) -> dict[str, object]:
    if not text:
        raise ValueError(f"no network table (set {RULES_ENV})")
    data = json.loads(zlib.decompress(base64.b64decode(text)))
    if not isinstance(data, dict):
        raise ValueError("the network table is not an object")
    return data


def split_authority(authority: str, default_port: int | None) -> tuple[str, int]:
    """`host:port`, `[v6]:port` or (with a default port) a bare host; raises ValueError."""
    host, port = authority, ""
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise ValueError("unclosed `[`")
        host, rest = authority[: end + 1], authority[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError("expected `:port` after `]`")
        port = rest[1:] if rest else ""
    elif ":" in authority:
        host, _, port = authority.rpartition(":")
        if ":" in host:
            raise ValueError("IPv6 addresses must be in brackets")
    if not port:
        if default_port is None or authority.endswith(":"):
            raise ValueError("a port is required")
        return host, default_port
    if not port.isascii() or not port.isdigit() or len(port) > 5:
        raise ValueError(f"bad port {port!r}")
    return host, int(port)


def same_host(a: str, b: str) -> bool:
    """Whether two spellings name the same host (canonical comparison); False if either
    does not parse."""
    try:
        return parse_host(a).name == parse_host(b).name
    except ValueError:
        return False


__all__ = [
    "RULES_ENV",
    "TABLE_VERSION",
    "NetOutcome",
    "NetRule",
    "NetRules",
    "NetTable",
    "decode_table",
    "encode_table",
    "same_host",
    "split_authority",
]
