"""Later layers only tighten; a locked org layer bounds what later layers may allow."""

from __future__ import annotations

from policies import Exec, FsRead, FsWrite, Limits, NetConnect, PolicySet

ORG = """version: 1
default: ask
exec:
  - {match: [git, status], decision: allow}
  - {match: [git, push], decision: deny, reason: org says no}
files: {read: {allow: ['**'], deny: ['.env']}}
limits: {cpus: 2, memory: 4g}
"""
PROJECT = """version: 1
default: allow
exec:
  - {match: [git, push], decision: allow}
  - {match: [pytest], decision: allow}
  - {match: [git, status], decision: ask, reason: project is careful}
files: {read: {allow: ['.env']}}
network: {allow: ['pypi.org:443', '*.example.com']}
limits: {cpus: 1, memory: 8g, pids: 64}
sandbox: {env: [HTTP_PROXY]}
"""


def layered(*texts: str) -> PolicySet:
    names = ["org", "project", "user"]
    return PolicySet.from_texts([(names[i], f"{names[i]}.yaml", t) for i, t in enumerate(texts)])


def test_later_allow_cannot_loosen_an_earlier_deny() -> None:
    d = layered(ORG, PROJECT).evaluate(Exec(command="git push"))
    assert (d.decision, d.layer, d.rule) == ("deny", "org", "exec[1]")


def test_later_layer_can_tighten() -> None:
    d = layered(ORG, PROJECT).evaluate(Exec(command="git status"))
    assert (d.decision, d.layer) == ("ask", "project")


def test_strictest_wins_in_any_layer_order() -> None:
    assert layered(PROJECT, ORG).evaluate(Exec(command="git push")).decision == "deny"
    assert layered(PROJECT, ORG).evaluate(FsRead(path=".env")).decision == "deny"


def test_later_allow_counts_where_no_earlier_layer_objects() -> None:
    assert layered(ORG, PROJECT).evaluate(Exec(command="pytest")).decision == "allow"


def test_strictest_default_applies_when_nothing_matches() -> None:
    d = layered(ORG, PROJECT).evaluate(Exec(command="make"))
    assert (d.decision, d.rule, d.layer) == ("ask", "default", "org")


def test_locked_org_bounds_later_allows() -> None:
    locked = ORG.replace("default: ask", "default: ask\nlock: true")
    policy = layered(locked, PROJECT)
    assert policy.evaluate(Exec(command="pytest")).decision == "ask"
    assert "locked" in policy.explain(Exec(command="pytest"))
    assert policy.network_allow == []
    assert policy.evaluate(NetConnect(host="pypi.org", port=443)).decision == "deny"


def test_locked_org_still_lets_later_layers_allow_what_it_allows() -> None:
    locked = ORG.replace("default: ask", "default: ask\nlock: true")
    assert layered(locked, PROJECT).evaluate(FsRead(path="src/a.py")).decision == "allow"


def test_limits_merge_to_the_strictest_value() -> None:
    limits = layered(ORG, PROJECT).limits
    assert limits == Limits(cpus=1.0, memory="4g", pids=64, timeout_s=120, output_bytes=200_000)


def test_network_allow_lists_effective_patterns() -> None:
    assert layered(ORG, PROJECT).network_allow == ["pypi.org:443", "*.example.com"]


def test_env_passthrough_and_layers_are_reported() -> None:
    policy = layered(ORG, PROJECT)
    assert policy.env_passthrough == ["HTTP_PROXY"]
    assert [info.name for info in policy.layers] == ["org", "project"]
    assert all(len(info.sha256) == 64 for info in policy.layers)
    assert policy.exec_dynamic == "deny"


def test_exec_dynamic_is_the_strictest_setting() -> None:
    ask = "version: 1\nexec_dynamic: ask\n"
    assert layered(ask).exec_dynamic == "ask"
    assert layered(ask, "version: 1\nexec_dynamic: deny\n").exec_dynamic == "deny"
    assert layered(ask).evaluate(Exec(command="bash -c ls")).decision == "ask"


def test_write_deny_in_user_layer_applies() -> None:
    user = "version: 1\nfiles: {write: {deny: ['src/**']}}\n"
    base = "version: 1\nfiles: {write: {allow: [{path: '**', reason: sandbox}]}}\n"
    assert layered(base, user).evaluate(FsWrite(path="src/a.py")).decision == "deny"
