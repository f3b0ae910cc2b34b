"""`policies.netrules`: the network decision the proxy shares, and its JSON table."""

from __future__ import annotations

import json

import pytest

from policies import NetConnect, PolicySet
from policies.netrules import NetRules, decode_table, encode_table, same_host, split_authority

ORG = "version: 1\nlock: true\nnetwork: {allow: ['pypi.org:443']}\n"
PROJECT = (
    "version: 1\nnetwork:\n  allow: ['pypi.org', '*.example.com', '*']\n"
    "  deny: ['bücher.example.com']\n  ask: ['ask.example.com']\n"
)


def _policy(*texts: str) -> PolicySet:
    names = ["org", "project", "user"]
    return PolicySet.from_texts([(names[i], f"{names[i]}.yaml", t) for i, t in enumerate(texts)])


def test_the_table_survives_json_and_the_proxy_encoding() -> None:
    table = _policy(ORG, PROJECT).network_table()
    assert decode_table(encode_table(table)) == json.loads(json.dumps(table))


@pytest.mark.parametrize(
    ("host", "port", "decision"),
    [
        ("pypi.org", 443, "allow"),
        ("pypi.org", 22, "deny"),
        ("PyPI.org.", 443, "allow"),
        ("files.pythonhosted.org", 443, "deny"),
        ("x.example.com", 443, "deny"),
    ],
)
def test_a_locked_layer_bounds_the_table_as_it_bounds_evaluate(
    host: str, port: int, decision: str
) -> None:
    policy = _policy(ORG, PROJECT)
    rules = NetRules(decode_table(encode_table(policy.network_table())))
    want = policy.evaluate(NetConnect(host=host, port=port))
    got = rules.judge(host, port)
    assert (got.decision, got.winner.id) == (want.decision, want.rule) == (decision, want.rule)


def test_unlocked_layers_keep_deny_ask_and_idn_semantics() -> None:
    rules = NetRules(_policy(PROJECT).network_table())
    assert rules.judge("xn--bcher-kva.example.com", 443).decision == "deny"
    assert rules.judge("BÜCHER.example.com.", 443).decision == "deny"
    assert rules.judge("ask.example.com", 443).decision == "ask"
    assert rules.judge("other.example.com", 8443).decision == "allow"
    assert rules.judge("[::1]", 443).winner.id == "builtin:network-literal"


def test_a_malformed_table_is_refused() -> None:
    with pytest.raises(ValueError):
        NetRules({"version": 99, "layers": []})
    with pytest.raises(ValueError):
        NetRules({"version": 1, "layers": [{"name": "x", "rules": []}]})


@pytest.mark.parametrize(
    ("authority", "default", "expected"),
    [
        ("pypi.org:443", None, ("pypi.org", 443)),
        ("[::1]:80", None, ("[::1]", 80)),
        ("[::1]", 80, ("[::1]", 80)),
        ("pypi.org", 80, ("pypi.org", 80)),
    ],
)
def test_authorities_split_into_host_and_port(
    authority: str, default: int | None, expected: tuple[str, int]
) -> None:
    assert split_authority(authority, default) == expected


@pytest.mark.parametrize("authority", ["pypi.org", "::1:80", "[::1", "x:", "x:٤٤٣", "x:123456"])
def test_bad_authorities_are_refused(authority: str) -> None:
    with pytest.raises(ValueError):
        split_authority(authority, None)


def test_hosts_compare_canonically() -> None:
    assert same_host("PyPI.org.", "pypi.org")
    assert same_host("bücher.example.com", "xn--bcher-kva.example.com")
    assert same_host("0x7f.1", "127.0.0.1")
    assert not same_host("pypi.org.evil", "pypi.org")
    assert not same_host("", "")
