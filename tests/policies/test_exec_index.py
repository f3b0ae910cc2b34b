"""Exec rules are indexed at load by their second token (a literal second word rules out
the rules with another literal there): the decisions are exactly those of the same rules
written so that no index can apply (`{glob: WORD}` matches a literal word the same way)."""

from __future__ import annotations

import pytest

from policies import Exec, PolicySet

RULES: list[tuple[str, str | None, str] | tuple[str, str, str, str]] = [
    ("git", "status", "allow"), ("git", "push", "deny"), ("git", "push", "ask"),
    ("git", "log", "allow"), ("git", "*", "ask"), ("git", "**", "allow"),
    ("rm", "-rf", "deny"), ("rm", "**", "ask"), ("ls", "-la", "allow"),
    ("make", "build", "allow"), ("make", "deploy", "deny"), ("curl", None, "ask"),
    ("git", "reset", "deny", "'**', '--hard'"),
]  # fmt: skip


def _policy(literal: bool) -> PolicySet:
    lines = ["version: 1", "default: ask", "exec_dynamic: deny", "exec:"]
    for name, second, decision, *rest in RULES:
        tail = rest[0] if rest else "'**'"
        if second is None:
            match = f"[{name}]"
        elif second in ("*", "**") or literal:
            match = f"[{name}, '{second}', {tail}]"
        else:
            match = f"[{name}, {{glob: '{second}'}}, {tail}]"
        lines.append(f"  - {{match: {match}, decision: {decision}}}")
    return PolicySet.from_texts([("org", "p.yaml", "\n".join(lines) + "\n")])


COMMANDS = [
    "git status", "git status --short", "git push origin main", "git PUSH", "GIT Push",
    "git -C . push", "git -c x=y push", "git --no-pager log", "git -C sub status",
    "./git push", "/usr/bin/git push", "env git push", "timeout 5 git push", "git",
    "git log && git push", "git $X push", "git push $(whoami)", "git \"push\"", "git pu'sh'",
    "git *", "rm -rf /", "rm -RF x", "rm x", "ls -la", "ls -LA", "ls *.py", "ls",
    "make build", "make deploy", "make Deploy", "make", "curl http://x", "curl",
    "git push " + " ".join(f"$A{i}" for i in range(250)),
    "git status " + " ".join(f"a{i}" for i in range(250)),
    "git status " + " ".join(f"$A{i}" for i in range(250)),
    "sh -c 'git push'", "xargs git push", "git log | git push",
]  # fmt: skip


@pytest.fixture(scope="module")
def pair() -> tuple[PolicySet, PolicySet]:
    return _policy(literal=True), _policy(literal=False)


@pytest.mark.parametrize("command", COMMANDS)
def test_indexed_rules_decide_exactly_as_unindexed_rules(
    pair: tuple[PolicySet, PolicySet], command: str
) -> None:
    indexed, plain = (p.evaluate(Exec(command=command)) for p in pair)
    assert indexed.decision == plain.decision
    assert indexed.rule == plain.rule
    assert [(s.decision, s.rule) for s in indexed.segments] == [
        (s.decision, s.rule) for s in plain.segments
    ]
    hits = [[[r.id for r in t.hits] for t in p.exec_traces(Exec(command=command))] for p in pair]
    assert hits[0] == hits[1]  # every matching rule, in order (what `explain` lists)


def test_the_first_of_equally_strict_rules_still_wins(pair: tuple[PolicySet, PolicySet]) -> None:
    decision = pair[0].evaluate(Exec(command="git push"))
    assert (decision.decision, decision.rule) == ("deny", "exec[1]")


def test_git_global_options_do_not_hide_a_deny_rule_from_the_index(
    pair: tuple[PolicySet, PolicySet],
) -> None:
    assert pair[0].evaluate(Exec(command="git -C . push")).decision == "deny"
    assert pair[0].evaluate(Exec(command="GIT -c a=b PUSH")).decision == "deny"


def test_a_long_argv_with_expansions_still_meets_every_deny_rule(
    pair: tuple[PolicySet, PolicySet],
) -> None:
    command = "git status " + " ".join(f"$A{i}" for i in range(250))
    assert pair[0].evaluate(Exec(command=command)).decision == "deny"
    (trace,) = pair[0].exec_traces(Exec(command=command))
    # `git reset ** --hard` (not matched left to right): past MAX_DP words it is taken as met
    assert "exec[12]" in [r.id for r in trace.hits]
