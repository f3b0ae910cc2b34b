"""Match semantics for paths, hosts, argv tokens and MCP tools."""

from __future__ import annotations

import pytest

from policies import Exec, FsRead, McpCall, McpStart, NetConnect, PolicySet

POLICY = """version: 1
default: ask
files:
  read:
    allow: ['src/**', '/opt/data/**']
    deny: ['**/*.pem', 'build/', 'id_*', '/opt/data/private/**']
exec:
  - {match: [git, '*', main], decision: allow, exact: true}
  - {match: [make, {glob: 'test-*'}], decision: allow}
  - {match: [rm, '**', '-rf', '**'], decision: deny}
  - {match: [npm, {regex: 'run|test'}], decision: allow}
network:
  allow: ['*.example.com:443', 'pypi.org', '10.0.0.5:8080', '[::1]:9000']
mcp:
  servers: {git: {decision: allow}, fs: {decision: ask}}
  tools:
    - {match: git.git_log, decision: allow}
    - {match: 'git.*', decision: ask}
    - {match: 'fs.write_*', decision: deny}
"""


@pytest.fixture(scope="module")
def policy() -> PolicySet:
    return PolicySet.from_texts([("org", "m.yaml", POLICY)])


@pytest.mark.parametrize(
    ("path", "want"),
    [("src/a.py", "allow"), ("src/x/key.pem", "deny"), ("build", "deny"), ("build/a", "deny"),
     ("x/build/a", "deny"), ("src/id_rsa", "deny"), ("docs/a", "ask"), ("/opt/data/a", "allow"),
     ("/opt/data/private/a", "deny"), ("/opt/other", "deny"), ("SRC/a.py", "ask")],
)  # fmt: skip
def test_path_globs(policy: PolicySet, path: str, want: str) -> None:
    assert policy.evaluate(FsRead(path=path)).decision == want


@pytest.mark.parametrize(
    ("command", "want"),
    [("git push main", "allow"), ("git push main --force", "ask"), ("make test-unit", "allow"),
     ("make deploy", "ask"), ("rm -rf x", "deny"), ("rm x -rf", "deny"), ("rm -v -rf x", "deny"),
     ("rm $X -rf", "deny"), ("npm test", "allow"), ("npm testx", "ask"), ("npm install", "ask")],
)  # fmt: skip
def test_argv_patterns(policy: PolicySet, command: str, want: str) -> None:
    assert policy.evaluate(Exec(command=command)).decision == want


@pytest.mark.parametrize(
    ("host", "port", "want"),
    [("a.example.com", 443, "allow"), ("a.b.example.com", 443, "allow"),
     ("example.com", 443, "deny"), ("evil-example.com", 443, "deny"),
     ("a.example.com", 80, "deny"), ("A.EXAMPLE.COM.", 443, "allow"), ("pypi.org", 8443, "allow"),
     ("10.0.0.5", 8080, "allow"), ("167772165", 8080, "allow"), ("10.0.0.5", 80, "deny"),
     ("::1", 9000, "allow"), ("127.0.0.1", 9000, "deny"), ("a.example.com\x00.x", 443, "deny"),
     ("bücher.example.com", 443, "allow")],
)  # fmt: skip
def test_host_patterns(policy: PolicySet, host: str, port: int, want: str) -> None:
    assert policy.evaluate(NetConnect(host=host, port=port)).decision == want


def test_mcp_rules(policy: PolicySet) -> None:
    assert policy.evaluate(McpStart(server="git")).decision == "allow"
    assert policy.evaluate(McpStart(server="fs")).decision == "ask"
    assert policy.evaluate(McpStart(server="other")).decision == "deny"
    # issue 3's example: `git.git_log: allow` names the tool exactly, so it carves it out of
    # the layer's wildcard `git.*: ask` (a deny is never carved out of)
    assert policy.evaluate(McpCall(server="git", tool="git_log")).decision == "allow"
    assert policy.evaluate(McpCall(server="git", tool="git_diff")).decision == "ask"
    assert policy.evaluate(McpCall(server="fs", tool="write_file")).decision == "deny"
    assert policy.evaluate(McpCall(server="other", tool="x")).decision == "deny"


def test_pathological_inputs_return_quickly(policy: PolicySet) -> None:
    bad = "version: 1\nfiles: {read: {deny: ['*a*a*a*a*a*a*a*a*a*a*a*a*b']}}\n"
    slow = PolicySet.from_texts([("org", "s.yaml", bad)])
    assert slow.evaluate(FsRead(path="a" * 4000)).decision == "ask"
    assert policy.evaluate(Exec(command="cat " + "*a" * 2000)).decision in ("allow", "ask", "deny")
