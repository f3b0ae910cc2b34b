"""The contract other packages code against."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import policies
from policies import (
    Exec,
    FsRead,
    FsWrite,
    McpCall,
    McpStart,
    NetConnect,
    PolicyInputError,
    PolicySet,
    RempartError,
    allow_rule_yaml,
    parse_action,
)

PKG = Path(policies.__file__).resolve().parent


def test_policies_imports_nothing_else_of_ours() -> None:
    ours = {"agent", "sandbox", "tui", "deploy"}
    for path in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] in ours for n in names), path


def test_modules_stay_small() -> None:
    for path in PKG.glob("*.py"):
        assert len(path.read_text().splitlines()) < 400, path


@pytest.mark.parametrize(
    "data",
    ['{"kind":"fs.read","path":"a"}', b'{"kind":"exec","command":"ls"}',
     {"kind": "mcp.call", "server": "s", "tool": "t"}],
)  # fmt: skip
def test_parse_action_accepts_json_bytes_and_dicts(data: str | bytes | dict[str, str]) -> None:
    assert parse_action(data).kind in ("fs.read", "exec", "mcp.call")


@pytest.mark.parametrize(
    "data",
    ["{", "[]", '{"kind":"rm"}', '{"kind":"fs.read"}', '{"kind":"fs.read","path":1}',
     '{"kind":"fs.read","path":"a","extra":1}', '{"kind":"net.connect","host":"a","port":70000}'],
)  # fmt: skip
def test_parse_action_rejects_bad_input(data: str) -> None:
    with pytest.raises(PolicyInputError) as info:
        parse_action(data)
    assert isinstance(info.value, RempartError)


@pytest.mark.parametrize(
    "action",
    [FsRead(path="src/a b.py"), FsWrite(path="notes/x*.md"), NetConnect(host="PyPI.org", port=443),
     McpStart(server="git"), McpCall(server="git", tool="git_log"),
     Exec(command="git push origin main && ls '*'")],
)  # fmt: skip
def test_allow_rule_yaml_allows_exactly_that_action(action: policies.Action) -> None:
    snippet = allow_rule_yaml(action)
    base = "version: 1\ndefault: deny\n"
    if isinstance(action, McpCall):
        base += "mcp: {servers: {git: {decision: allow}}}\n"
    policy = PolicySet.from_texts(
        [("org", "base.yaml", base), ("user", "snippet.yaml", "version: 1\n" + snippet)]
    )
    assert policy.evaluate(action).decision == "allow", snippet


def test_allow_rule_yaml_refuses_dynamic_commands() -> None:
    snippet = allow_rule_yaml(Exec(command="bash -c 'ls'"))
    assert "dynamic" in snippet and "match" not in snippet


def test_allow_rule_for_exec_is_exact() -> None:
    snippet = allow_rule_yaml(Exec(command="git push origin main"))
    policy = PolicySet.from_texts([("user", "s.yaml", "version: 1\ndefault: deny\n" + snippet)])
    assert policy.evaluate(Exec(command="git push origin main --force")).decision == "deny"


def test_decision_json_has_the_documented_shape(default_policy: PolicySet) -> None:
    d = default_policy.evaluate(Exec(command="git push"))
    assert set(d.model_dump()) == {"decision", "rule", "layer", "source", "reason", "segments"}
    assert set(d.segments[0].model_dump()) == {
        "command",
        "argv",
        "decision",
        "rule",
        "layer",
        "source",
        "reason",
    }


def test_explain_covers_non_exec_actions(default_policy: PolicySet) -> None:
    text = default_policy.explain(FsRead(path=".env"))
    assert "matched deny  files.read.deny[0]" in text
    assert "matched allow files.read.allow[0]" in text
    assert "final: deny" in text
