"""Parity: the real egress proxy decides every (host, port) as `PolicySet.evaluate` does.

Seeded random layer stacks (allow/ask/deny rules, exact names, `*.domain`, `*`, ports,
addresses, local names, IDN, locks) and, per stack, a few hundred destinations in many
spellings (case, trailing dot, punycode or Unicode, `inet_aton` forms, IPv6 brackets,
bad names and ports) are sent as CONNECTs to a real proxy container. Names live under
`.invalid`, which the proxy never resolves: a destination the policy allows comes back as
`resolve_failed: special-use name` (or `ip_literal` / `blocked_address` for addresses and
local names: the walls after the policy), one it does not as `not_allowlisted` or
`bad_host`. The proxy's log line must also name the rule and layer `evaluate` names.
"""

from __future__ import annotations

import random
import time

import pytest

from policies import NetConnect, PolicySet
from tests.sandbox.proxy_harness import ProxyUnderTest, layered, refusal

pytestmark = pytest.mark.docker

SEED = 20261203
STACKS = 24
QUERIES = 440  # per stack: 10,560 in all

DOMAINS = [
    "a.invalid", "b.invalid", "x.a.invalid", "y.x.a.invalid", "bücher.a.invalid",
    "c-d.b.invalid", "e_f.invalid", "pypi.invalid", "files.pypi.invalid",
]  # fmt: skip
SUFFIXES = ["invalid", "a.invalid", "x.a.invalid", "b.invalid", "pypi.invalid"]
LITERALS = ["10.0.0.1", "[::1]", "[2001:db8::1]", "127.0.0.1", "localhost", "x.localhost"]
SPELLINGS = {
    "10.0.0.1": ["10.0.0.1", "0x0a000001", "167772161", "012.0.0.1", "10.1", "[::ffff:10.0.0.1]"],
    "[::1]": ["[::1]", "[0:0:0:0:0:0:0:1]", "[::0:1]"],
    "[2001:db8::1]": ["[2001:DB8::1]", "[2001:db8:0::1]"],
    "127.0.0.1": ["127.0.0.1", "127.1", "2130706433", "0x7f.1"],
    "localhost": ["localhost", "LOCALHOST", "localhost."],
    "x.localhost": ["x.localhost", "X.LocalHost."],
    "bücher.a.invalid": ["bücher.a.invalid", "BÜCHER.a.invalid", "xn--bcher-kva.a.invalid"],
}
BAD_HOSTS = ["bad..invalid", "-x.invalid", "x-.invalid", "%41.invalid", "a/b.invalid"]
PORTS = [22, 80, 443, 8080, 8443, 1, 65535]
PASSED = ("resolve_failed: special-use", "ip_literal", "blocked_address")
REFUSED = ("not_allowlisted", "bad_host")


def _port(rng: random.Random) -> int:
    return rng.choice(PORTS) if rng.random() < 0.85 else rng.randint(1, 65535)


def _pattern(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:
        host = rng.choice(DOMAINS)
    elif roll < 0.7:
        host = "*." + rng.choice(SUFFIXES)
    elif roll < 0.8:
        host = "*"
    else:
        host = rng.choice(LITERALS)
    port = rng.random()
    if port < 0.5:
        return host
    return f"{host}:*" if port < 0.6 else f"{host}:{rng.choice(PORTS)}"


def _layer(rng: random.Random) -> str:
    lists: dict[str, list[str]] = {"allow": [], "ask": [], "deny": []}
    for _ in range(rng.randint(0, 6)):
        kind = rng.choices(["allow", "ask", "deny"], weights=[6, 2, 2])[0]
        pattern = _pattern(rng)
        if pattern not in lists[kind]:
            lists[kind].append(pattern)
    lock = "lock: true\n" if rng.random() < 0.35 else ""
    body = ", ".join(f"{k}: [{', '.join(repr(p) for p in v)}]" for k, v in lists.items() if v)
    return f"version: 1\n{lock}network: {{{body}}}\n"


def _stack(rng: random.Random) -> PolicySet:
    return layered(*(_layer(rng) for _ in range(rng.randint(1, 4))))


def _spell(rng: random.Random, host: str) -> str:
    if host in SPELLINGS and rng.random() < 0.7:
        return rng.choice(SPELLINGS[host])
    if not host.startswith("[") and rng.random() < 0.3:
        host = "".join(c.upper() if rng.random() < 0.5 else c for c in host)
    if not host.startswith("[") and rng.random() < 0.15:
        host += "."
    return host


def _host(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.45:
        return _spell(rng, rng.choice(DOMAINS))
    if roll < 0.7:
        label = rng.choice(["z", "q", "www", "a", "x"])
        return _spell(rng, f"{label}.{rng.choice(DOMAINS + SUFFIXES)}")
    if roll < 0.95:
        return _spell(rng, rng.choice(LITERALS))
    return rng.choice(BAD_HOSTS)


def _targets(rng: random.Random) -> list[tuple[str, int]]:
    seen: dict[str, tuple[str, int]] = {}
    while len(seen) < QUERIES:
        host = _host(rng)
        port = 0 if rng.random() < 0.01 else _port(rng)
        seen.setdefault(f"{host}:{port}", (host, port))
    return list(seen.values())


def test_the_proxy_and_the_policy_agree_on_every_destination(image: str) -> None:
    rng = random.Random(SEED)
    started = time.monotonic()
    disagreements: list[str] = []
    tally = {"allow": 0, "ask": 0, "deny": 0, "lock-ignored": 0}
    checked = 0
    for _ in range(STACKS):
        policy = _stack(rng)
        targets = _targets(rng)
        with ProxyUnderTest(policy, image) as proxy:
            answers = proxy.connect_many([f"{h}:{p}" for h, p in targets])
            logged = {e.target: e for e in proxy.wait_until_logged(len(targets))}
        for (host, port), answer in zip(targets, answers, strict=True):
            target = f"{host}:{port}"
            want = policy.evaluate(NetConnect(host=host, port=port))
            tally[want.decision] += 1
            tally["lock-ignored"] += bool(
                policy.judge(NetConnect(host=host, port=port)).outcome.ignored
            )
            reason = refusal(answer)
            passed = reason.startswith(PASSED)
            if not passed and not reason.startswith(REFUSED):
                disagreements.append(f"{target}: unexpected answer {answer[:80]!r}")
                continue
            event = logged.get(target)
            seen = (event.policy, event.rule, event.layer or None) if event else None
            if passed != (want.decision == "allow") or seen != (
                want.decision,
                want.rule,
                want.layer,
            ):
                disagreements.append(f"{target}: policy {want.decision} {want.rule} "
                                     f"{want.layer}, proxy {reason!r} {seen}")  # fmt: skip
            checked += 1
    elapsed = time.monotonic() - started
    print(f"parity: {checked} destinations, {STACKS} stacks, {tally}, {elapsed:.1f}s")
    assert not disagreements, "\n".join(disagreements[:30])
    assert checked >= 10_000
    assert min(tally.values()) >= 200, tally  # every kind of outcome was exercised
