"""`policy check` rejects YAML quirks and bad rules with file:line:col, fail closed."""

from __future__ import annotations

import pytest

from policies import PolicyLoadError, PolicySet


def load(text: str) -> PolicySet:
    return PolicySet.from_texts([("org", "p.yaml", text)])


BAD = [
    ("version: 1\nfiles:\n  raed: {allow: ['**']}\n", 3, "did you mean `read`"),
    ("version: 1\nexec:\n  - {match: [ls], decison: allow}\n", 3, "did you mean `decision`"),
    ("version: 1\ndefault: ask\ndefault: deny\n", 3, "duplicate key"),
    ("version: 1\nfiles: {read: {deny: [no]}}\n", 2, "`no`"),
    ("version: 1\nexec:\n  - {match: [chmod, 0755], decision: allow}\n", 3, "0755"),
    ("version: 1\nexec:\n  - {match: [sleep, 1e3], decision: allow}\n", 3, "quote it"),
    ("version: 1\nexec:\n  - {match: [ls, on], decision: allow}\n", 3, "`on`"),
    ("version: 1\nexec:\n  - {match: [ls, null], decision: allow}\n", 3, "quote it"),
    ("version: 1\nexec:\n  - {match: [ls, 12], decision: allow}\n", 3, "quote it"),
    ("version: 1\nx: &a [1]\ny: *a\n", 2, "anchors"),
    ("version: 1\nname: !!python/name:os.system x\n", 2, "tags"),
    ("version: 1\nname: !custom x\n", 2, "tags"),
    ("version: 1\nfiles: {read: {deny: ['[abc']}}\n", 2, "unclosed"),
    ("version: 1\nfiles: {read: {deny: ['a/../b']}}\n", 2, "never match"),
    ("version: 1\nexec:\n  - {match: [ls, {regex: '(a+)+'}], decision: deny}\n", 3, "quantifier"),
    ("version: 1\nexec:\n  - {match: [ls, {regex: '('}], decision: deny}\n", 3, "compile"),
    ("version: 1\nmcp:\n  tools:\n    - {match: gitlog, decision: allow}\n", 4, "never match"),
    ("version: 1\nnetwork: {allow: ['exa*mple.com']}\n", 2, "leftmost"),
    ("version: 1\nnetwork: {allow: ['example.com:99999']}\n", 2, "port"),
    (
        "version: 1\nexec:\n  - match: [git, push]\n    decision: deny\n"
        "    examples: {match: ['git status']}\n",
        5,
        "does not match",
    ),
    (
        "version: 1\nexec:\n  - match: [git, push]\n    decision: deny\n"
        "    examples: {not_match: ['timeout 1 git push']}\n",
        5,
        "matches this rule",
    ),
    ("version: 2\n", 1, "version"),
    ("name: x\n", 1, "version"),
    ("version: 1\ndefault: maybe\n", 2, "default"),
    ("version: 1\nexec_dynamic: allow\n", 2, "exec_dynamic"),
    ("version: 1\nlock: yes\n", 2, "`yes`"),
    ("version: 1\nfiles: [\n", 3, "invalid YAML"),
    ("- just a list\n", 1, "mapping"),
    ("", 1, "empty"),
    ("version: 1\n---\nversion: 1\n", 2, "one YAML document"),
    ("version: 1\nx: " + "[" * 100 + "]" * 100 + "\n", 2, "nesting"),
]


@pytest.mark.parametrize(("text", "line", "needle"), BAD)
def test_bad_policy_fails_with_position(text: str, line: int, needle: str) -> None:
    with pytest.raises(PolicyLoadError) as info:
        load(text)
    err = info.value
    assert err.path == "p.yaml"
    assert any(p.line == line and needle in p.message for p in err.problems), err.render()
    assert str(err).startswith(f"p.yaml:{err.line}:{err.col}: ")


def test_huge_policy_is_rejected() -> None:
    with pytest.raises(PolicyLoadError, match="1 MiB"):
        load("version: 1\nname: " + "x" * (1 << 20) + "\n")


def test_load_error_aggregates_every_problem() -> None:
    with pytest.raises(PolicyLoadError) as info:
        load("version: 1\nfoo: 1\nbar: 2\n")
    assert len([p for p in info.value.problems if p.severity == "error"]) == 2


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\nexec:\n  - {match: ['**'], decision: allow}\n",
        "version: 1\nfiles: {write: {allow: ['**']}}\n",
        "version: 1\nnetwork: {allow: ['*']}\n",
        "version: 1\nmcp: {tools: [{match: '*.*', decision: allow}]}\n",
    ],
)
def test_over_broad_allow_is_a_warning_not_an_error(text: str) -> None:
    policy = load(text)
    assert any("over-broad" in p.message for p in policy.warnings)


def test_quoted_strings_are_fine() -> None:
    policy = load("version: 1\nexec:\n  - {match: [chmod, '0755'], decision: allow}\n")
    assert not policy.warnings


def test_missing_file_is_a_load_error(tmp_path: object) -> None:
    from pathlib import Path

    with pytest.raises(PolicyLoadError, match="cannot read"):
        PolicySet.load([("org", Path(str(tmp_path)) / "missing.yaml")])
