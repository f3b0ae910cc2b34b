"""MCP tool calls judged by their arguments and annotations (issue 16, item 5).

Argument shapes are those of the reference git server, mcp-server-git
(modelcontextprotocol/servers, src/git): git_show {repo_path, revision}, git_diff
{repo_path, target, context_lines}, git_add {repo_path, files: [...]}, git_checkout
{repo_path, branch_name}, git_log {repo_path, max_count, start_timestamp, end_timestamp}.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from policies import McpCall, PolicyLoadError, PolicySet, parse_action
from policies.shipped import examples_dir

EXAMPLES = examples_dir()
BASE_FILES = """\
files:
  read:
    allow: ["**"]
    deny:
      - {path: ".env", reason: "secrets stay out of the model's context"}
      - "secrets/**"
      - "**/*.pem"
  write:
    allow: ["**"]
    deny: [".git/**", ".env"]
"""
# git_show allowed with no value constraint at all: only the path kinds can deny
BARE = f"""version: 1
default: ask
{BASE_FILES}mcp:
  servers: {{git: {{decision: allow}}}}
  tools:
    - match: git.git_show
      decision: allow
      arguments: {{repo_path: {{path: read}}, revision: {{path: revision}}}}
    - match: git.git_diff
      decision: allow
      arguments: {{repo_path: {{path: read}}, target: {{path: revision}}}}
    - match: git.git_add
      decision: allow
      arguments: {{repo_path: {{path: read}}, files: {{path: read}}}}
    - match: git.git_checkout
      decision: allow
      arguments: {{branch_name: {{path: true}}}}
"""


def load(*texts: str) -> PolicySet:
    names = ("org", "project", "user")
    return PolicySet.from_texts([(names[i], f"{names[i]}.yaml", t) for i, t in enumerate(texts)])


def shipped() -> PolicySet:
    return PolicySet.load([("org", EXAMPLES / "default.yaml"), ("git", EXAMPLES / "mcp-git.yaml")])


def call(tool: str, annotations: dict[str, Any] | None = None, /, **arguments: Any) -> McpCall:
    return McpCall(server="git", tool=tool, arguments=arguments, annotations=annotations)


# 1. the shipped layer on the reference server's real argument shapes


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("git_status", {"repo_path": "/workspace"}, "allow"),
        ("git_log", {"repo_path": "/workspace", "max_count": 20}, "allow"),
        ("git_log", {"repo_path": "/workspace", "max_count": 10**9}, "ask"),
        ("git_show", {"repo_path": "/workspace", "revision": "HEAD~1"}, "allow"),
        ("git_show", {"repo_path": "/workspace", "revision": "HEAD:.env"}, "deny"),
        ("git_show", {"repo_path": "/workspace/secrets", "revision": "HEAD"}, "deny"),
        ("git_diff", {"repo_path": "/workspace", "target": "main", "context_lines": 3}, "allow"),
        ("git_diff", {"repo_path": "/workspace", "target": ".env"}, "deny"),
        ("git_diff", {"repo_path": "/workspace", "target": "--output=/workspace/x"}, "deny"),
        ("git_diff_staged", {"repo_path": "/workspace", "context_lines": 3}, "allow"),
        ("git_add", {"repo_path": "/workspace", "files": ["src/app.py"]}, "ask"),
        ("git_add", {"repo_path": "/workspace", "files": ["src/app.py", "config/.env"]}, "deny"),
        ("git_checkout", {"repo_path": "/workspace", "branch_name": "feature"}, "ask"),
        ("git_checkout", {"repo_path": "/workspace", "branch_name": "secrets/token"}, "deny"),
        ("git_commit", {"repo_path": "/workspace", "message": "fix .env parsing"}, "ask"),
        ("git_create_branch", {"repo_path": "/workspace", "branch_name": "b"}, "ask"),
        ("git_branch", {"repo_path": "/workspace", "branch_type": "local"}, "allow"),
        ("git_branch", {"repo_path": "/workspace", "branch_type": "-D"}, "ask"),
        ("git_push", {"repo_path": "/workspace"}, "deny"),
    ],
)
def test_the_shipped_git_layer_judges_the_reference_servers_arguments(
    tool: str, arguments: dict[str, Any], expected: str
) -> None:
    assert shipped().evaluate(call(tool, **arguments)).decision == expected


def test_git_show_of_a_read_denied_path_is_denied_by_the_same_rule_as_read_file() -> None:
    for policy in (shipped(), load(BARE)):
        read = policy.evaluate(parse_action({"kind": "fs.read", "path": ".env"}))
        show = policy.evaluate(call("git_show", repo_path="/workspace", revision="HEAD:.env"))
        diff = policy.evaluate(call("git_diff", repo_path="/workspace", target="HEAD:.env"))
        assert read.decision == show.decision == diff.decision == "deny"
    # with no rule about revisions but the path kinds, it is read_file's very rule and line
    assert show.rule == diff.rule == read.rule == "files.read.deny[0]"
    assert show.source == read.source == "org.yaml:7"
    assert "argument `revision` means reading `.env`" in show.reason


# 2. rev:path smuggling: without any value constraint, the path kinds alone deny


@pytest.mark.parametrize(
    "revision",
    [
        "HEAD:.env",
        "HEAD~1:./.env",
        ":.env",  # the index
        ":0:.env",  # stage 0 of the index
        "main:config/.ENV",  # case-folded like every deny rule
        "HEAD:secrets/db.txt",
        "v1.0^{tree}:deploy/server.pem",
        "HEAD:/.env",  # a leading `/` is still tree-relative
        "HEAD:sub/../.env",
        ".env",  # git diff TARGET: a non-revision is a path
        "HEAD:.env\u200b",  # invisible characters are dropped before deny rules match
        "HEAD:./secrets//db",
        ["HEAD", "HEAD:.env"],  # GitPython passes each element of a list as a word
    ],
)
def test_a_revision_naming_a_read_denied_path_is_denied(revision: str | list[str]) -> None:
    policy = load(BARE)
    for tool, key in (("git_show", "revision"), ("git_diff", "target")):
        decision = policy.evaluate(call(tool, repo_path="/workspace", **{key: revision}))
        assert decision.decision == "deny", (tool, revision, decision.reason)
        assert decision.rule is not None and decision.rule.startswith("files.read.deny")


def test_a_revision_path_is_also_read_relative_to_the_repo_path() -> None:
    # repo `sub`, `HEAD:secrets/x` is sub/secrets/x: not under the root's `secrets/**`...
    # ...but the same path from the workspace root is judged too (stricter, never looser)
    policy = load(BARE)
    d = policy.evaluate(call("git_show", repo_path="/workspace/sub", revision="HEAD:secrets/x"))
    assert d.decision == "deny"
    ok = policy.evaluate(call("git_show", repo_path="/workspace/sub", revision="HEAD:src/x"))
    assert ok.decision == "allow"


@pytest.mark.parametrize(
    "target",
    [
        "--output=/workspace/src/app.py",  # git diff writes the diff over a file
        "--no-index",
        "-p",
        ["main", "--output=x"],  # GitPython flattens a list into several argv words
    ],
)
def test_a_git_option_where_a_revision_belongs_is_denied(target: Any) -> None:
    decision = load(BARE).evaluate(call("git_diff", repo_path="/workspace", target=target))
    assert decision.decision == "deny"
    assert decision.rule == "builtin:mcp-option-argument"


@pytest.mark.parametrize(
    "repo_path",
    [
        "/workspace/secrets",
        "/workspace/src/../secrets",
        "secrets/./",
        "/proc/self/root/workspace/secrets",
        "/home/user/.ssh",  # outside the workspace
        "/workspace/../etc",
    ],
)
def test_a_path_argument_is_normalised_like_read_file(repo_path: str) -> None:
    policy = load(BARE)
    via_tool = policy.evaluate(call("git_show", repo_path=repo_path, revision="HEAD"))
    via_read = policy.evaluate(parse_action({"kind": "fs.read", "path": repo_path}))
    assert via_tool.decision == via_read.decision == "deny"
    assert via_tool.rule == via_read.rule


@pytest.mark.parametrize(
    "files",
    [[".env"], ["src/a.py", ["nested", "x.pem"]], "secrets/k"],
)
def test_every_element_of_a_list_path_argument_is_judged(files: Any) -> None:
    decision = load(BARE).evaluate(call("git_add", repo_path="/workspace", files=files))
    assert decision.decision == "deny"


@pytest.mark.parametrize("files", [{"path": ".env"}, [1], [".", {"x": 1}], [[[[[[[[[["a"]]]]]]]]]]])
def test_a_path_argument_that_is_not_text_is_denied(files: Any) -> None:
    decision = load(BARE).evaluate(call("git_add", repo_path="/workspace", files=files))
    assert decision.decision == "deny"
    assert decision.rule == "builtin:mcp-bad-path-argument"


def test_a_relative_path_argument_is_also_judged_from_the_repo_path() -> None:
    # git_add `files` are relative to `repo_path`: `keys/id` in repo `deploy` is deploy/keys/id
    pem = '      - "**/*.pem"\n'
    anchored = BARE.replace(pem, pem + '      - "deploy/keys/**"\n')
    policy = load(anchored)
    for repo in ("/workspace/deploy", "deploy", "/workspace/x/../deploy/"):
        d = policy.evaluate(call("git_add", repo_path=repo, files=["src/a.py", "keys/id"]))
        assert (d.decision, d.rule) == ("deny", "files.read.deny[3]"), repo
    fine = policy.evaluate(call("git_add", repo_path="deploy", files=["src/a.py", "docs/id"]))
    assert fine.decision == "allow"
    many = [f"src/f{i}.py" for i in range(300)]
    assert policy.evaluate(call("git_add", repo_path=".", files=many)).decision == "allow"


def test_oversized_path_arguments_are_denied_and_oversized_text_is_still_judged() -> None:
    policy = load(BARE)
    many = [f"src/f{i}.py" for i in range(600)]  # judged from 2 directories: over 1024
    d = policy.evaluate(call("git_add", repo_path="/workspace", files=many))
    assert (d.decision, d.rule) == ("deny", "builtin:mcp-bad-path-argument")
    long_rev = "HEAD:" + ":" * 100_000 + ".env"
    d = policy.evaluate(call("git_show", repo_path="/workspace", revision=long_rev))
    assert (d.decision, d.rule) == ("deny", "builtin:bad-path")
    colons = "HEAD:" + "x:" * 30 + ".env"  # git reads the path `x:x:...:.env`, not `.env`
    d = policy.evaluate(call("git_show", repo_path="/workspace", revision=colons))
    assert d.decision == "allow"
    text = {"message": "a:" * 500_000, "nested": [[["x"] * 100] * 100]}
    d = policy.evaluate(call("git_commit", **text))  # no rule: judged, default ask
    assert d.decision == "ask"


def test_path_true_is_judged_as_a_write_unless_the_tool_says_read_only() -> None:
    policy = load(BARE)
    # `git checkout .git/config` would overwrite it: .git/** is write-denied, read-allowed
    args = {"repo_path": "/workspace", "branch_name": ".git/config"}
    assert policy.evaluate(call("git_checkout", **args)).decision == "deny"
    read_only = {"readOnlyHint": True}
    assert policy.evaluate(call("git_checkout", read_only, **args)).decision == "allow"


def test_path_kinds_of_any_layer_apply_even_when_another_layer_allows_the_tool_bare() -> None:
    project = "version: 1\nmcp:\n  servers: {git: {decision: allow}}\n  tools:\n"
    project += "    - {match: git.git_show, decision: allow}\n"
    policy = load(BARE, project)
    assert policy.evaluate(call("git_show", repo_path=".", revision="HEAD:.env")).decision == (
        "deny"
    )
    assert policy.evaluate(call("git_show", repo_path=".", revision="HEAD")).decision == "allow"


SNIFF = f"""version: 1
default: ask
{BASE_FILES}mcp:
  servers: {{fs: {{decision: allow}}}}
  tools:
    - {{match: "fs.*", decision: allow}}
    - {{match: fs.search, decision: allow, arguments: {{query: {{path: false}}}}}}
"""


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("read_text", {"path": ".env"}, "deny"),  # no rule says `path` is a path
        ("read_text", {"path": "/workspace/config/.ENV"}, "deny"),
        ("read_text", {"options": {"files": ["a.py", "secrets/db"]}}, "deny"),
        ("read_text", {"spec": "HEAD:deploy/tls.pem"}, "deny"),
        ("read_text", {"path": "src/app.py"}, "allow"),
        ("read_text", {"path": "/etc/passwd"}, "allow"),  # only files rules, not built-ins
        ("commit", {"message": "stop reading .env at import time"}, "allow"),
        ("search", {"query": ".env"}, "allow"),  # `path: false`: the rule says it is text
        ("search", {"query": "x", "root": "secrets"}, "deny"),
    ],
)
def test_an_unflagged_string_naming_a_read_protected_path_is_judged_as_a_read(
    tool: str, arguments: dict[str, Any], expected: str
) -> None:
    decision = load(SNIFF).evaluate(McpCall(server="fs", tool=tool, arguments=arguments))
    assert decision.decision == expected, decision.reason
    if expected == "deny":
        assert decision.rule is not None and decision.rule.startswith("files.read.deny")
        assert "names a protected path" in decision.reason


# 3. value constraints: allow rules fail closed, deny rules match closed

CONSTRAINED = """version: 1
default: ask
mcp:
  servers: {s: {decision: allow}}
  tools:
    - match: s.read
      decision: allow
      allowed_keys: [name, count, tags]
      arguments:
        name: {glob: "*.md", required: true}
        count: {min: 1, max: 50}
        tags: {regex: "[a-z]+"}
    - {match: s.run, decision: allow}
    - {match: s.run, decision: deny, arguments: {cmd: {glob: "rm *"}}}
    - {match: s.run, decision: ask, arguments: {num: {min: 100}}}
"""


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("read", {"name": "a.md"}, "allow"),
        ("read", {"name": "a.md", "count": 50, "tags": ["a", "b"]}, "allow"),
        ("read", {"name": "a.MD"}, "ask"),  # allow rules match exactly
        ("read", {}, "ask"),  # required
        ("read", {"name": "a.md", "extra": 1}, "ask"),  # not in allowed_keys
        ("read", {"name": "a.md", "count": 51}, "ask"),
        ("read", {"name": "a.md", "count": 0.5}, "ask"),
        ("read", {"name": "a.md", "count": True}, "ask"),  # a boolean is not a number
        ("read", {"name": "a.md", "count": "5"}, "ask"),
        ("read", {"name": "a.md", "tags": ["a", "B"]}, "ask"),  # every element
        ("read", {"name": "a.md", "tags": ["a", 1]}, "ask"),
        ("read", {"name": ["a.md", "b.txt"]}, "ask"),
        ("read", {"name": {"glob": "a.md"}}, "ask"),
        ("run", {"cmd": "ls"}, "allow"),
        ("run", {}, "allow"),  # an absent key never fits a deny or ask rule
        ("run", {"cmd": "rm -rf /"}, "deny"),
        ("run", {"cmd": "RM -rf /"}, "deny"),  # deny rules compare case-folded
        ("run", {"cmd": ["ls", "rm x"]}, "deny"),  # one element suffices
        ("run", {"cmd": {"0": "rm x"}}, "deny"),  # an object cannot be checked: fail closed
        ("run", {"cmd": 7}, "deny"),
        ("run", {"num": 100}, "ask"),
        ("run", {"num": "1000"}, "ask"),  # not a number: the ask rule matches
        ("run", {"num": 99}, "allow"),
    ],
)
def test_argument_constraints_fail_closed(
    tool: str, arguments: dict[str, Any], expected: str
) -> None:
    action = McpCall(server="s", tool=tool, arguments=arguments)
    assert load(CONSTRAINED).evaluate(action).decision == expected


def test_an_exact_allow_with_constraints_carves_out_of_a_wildcard_ask_only_when_it_fits() -> None:
    text = CONSTRAINED.replace(
        "    - {match: s.run, decision: allow}\n", "    - {match: 's.*', decision: ask}\n"
    )
    policy = load(text)
    assert policy.evaluate(
        McpCall(server="s", tool="read", arguments={"name": "a.md"})
    ).decision == ("allow")
    assert policy.evaluate(
        McpCall(server="s", tool="read", arguments={"name": "a.py"})
    ).decision == ("ask")


# 4. annotations: missing means destructive


ANNOTATED = """version: 1
default: allow
mcp:
  servers: {s: {decision: allow}}
  tools:
    - {match: s.danger, decision: deny}
    - {match: 's.w*', decision: deny, when: {destructive: true}}
"""


@pytest.mark.parametrize(
    ("tool", "annotations", "expected", "rule"),
    [
        ("other", None, "ask", "builtin:mcp-destructive"),
        ("other", {}, "ask", "builtin:mcp-destructive"),
        ("other", {"readOnlyHint": "yes"}, "ask", "builtin:mcp-destructive"),
        ("other", {"readOnlyHint": True}, "allow", "default"),
        ("other", {"destructiveHint": False}, "allow", "default"),
        # a read-only claim never loosens a rule that names the tool
        ("danger", {"readOnlyHint": True}, "deny", "mcp.tools[0]"),
        ("write", None, "deny", "mcp.tools[1]"),
        ("write", {"readOnlyHint": True, "destructiveHint": True}, "allow", "default"),
        ("write", {"destructiveHint": False}, "allow", "default"),
    ],
)
def test_a_tool_without_annotations_is_destructive(
    tool: str, annotations: dict[str, Any] | None, expected: str, rule: str
) -> None:
    action = McpCall(server="s", tool=tool, arguments={}, annotations=annotations)
    decision = load(ANNOTATED).evaluate(action)
    assert (decision.decision, decision.rule) == (expected, rule)


def test_without_default_allow_the_destructive_floor_changes_nothing() -> None:
    policy = load(ANNOTATED.replace("default: allow", "default: deny"))
    decision = policy.evaluate(McpCall(server="s", tool="other"))
    assert (decision.decision, decision.rule) == ("deny", "default")


# 5. load errors with file:line, and examples checked at load


@pytest.mark.parametrize(
    ("rule", "line", "message"),
    [
        ("    - {match: s.t, decision: allow, arguments: {x: {globb: '*'}}}\n", 5,
         "did you mean `glob`"),
        ("    - {match: s.t, decision: allow, when: {readonly: true}}\n", 5,
         "did you mean `read_only`"),
        ("    - {match: s.t, decision: allow, arguments: {x: {path: yes}}}\n", 5, "`yes`"),
        ("    - {match: s.t, decision: allow, arguments: {x: {path: exec}}}\n", 5, "path"),
        ("    - match: s.t\n      decision: deny\n      arguments:\n"
         "        x: {regex: '(a+)+'}\n", 8, "quantifier"),
        ("    - match: s.t\n      decision: deny\n      arguments:\n"
         "        x: {glob: '[ab'}\n", 8, "unclosed"),
        ("    - {match: s.t, decision: ask, arguments: {num: {min: 5, max: 1}}}\n", 5,
         "can never match"),
        ("    - match: s.t\n      decision: allow\n      allowed_keys: [a]\n"
         "      arguments: {b: {required: true}}\n", 8, "not in allowed_keys"),
        ("    - match: s.t\n      decision: allow\n      arguments: {num: {max: 3}}\n"
         "      examples:\n        match:\n          - {tool: s.t, arguments: {num: 4}}\n",
         10, "does not match this rule"),
        ("    - match: s.t\n      decision: deny\n      arguments: {num: {glob: '-*'}}\n"
         "      examples:\n        not_match:\n"
         "          - {tool: s.t, arguments: {num: [a, -x]}}\n",
         10, "matches this rule"),
        ("    - match: s.t\n      decision: allow\n      examples:\n        match:\n"
         "          - {tool: s.t, argumnts: {}}\n", 9, "did you mean `arguments`"),
        ("    - match: s.t\n      decision: allow\n      when: {read_only: true}\n"
         "      examples:\n        match:\n          - s.t\n", 10,
         "does not match this rule"),  # no annotations: not read-only
    ],
)  # fmt: skip
def test_a_bad_argument_rule_is_a_load_error_at_its_line(
    rule: str, line: int, message: str
) -> None:
    text = "version: 1\nmcp:\n  servers: {s: {decision: allow}}\n  tools:\n" + rule
    with pytest.raises(PolicyLoadError) as caught:
        load(text)
    errors = [p for p in caught.value.problems if p.severity == "error"]
    assert any(p.line == line and message in p.message for p in errors), [str(p) for p in errors]
    assert all(p.path == "org.yaml" for p in errors)


def test_examples_of_the_shipped_git_layer_are_checked_and_pass() -> None:
    policy = shipped()
    assert not [w for w in policy.warnings if w.path.endswith("mcp-git.yaml")]
    text = (EXAMPLES / "mcp-git.yaml").read_text()
    broken = text.replace('revision: "HEAD~1"}}\n', 'revision: "HEAD~1:x"}}\n', 1)
    assert broken != text
    with pytest.raises(PolicyLoadError, match="does not match this rule"):
        PolicySet.from_texts([("git", "mcp-git.yaml", broken)])


# 6. the command line: eval with JSON actions, explain, test


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rempart", "policy", *args],
        input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


POLICIES = ("--policy", "default", "--policy", str(EXAMPLES / "mcp-git.yaml"))


def test_policy_eval_judges_mcp_arguments_from_json_lines() -> None:
    actions = [
        {"kind": "mcp.call", "server": "git", "tool": "git_show",
         "arguments": {"repo_path": "/workspace", "revision": "HEAD~1"}},
        {"kind": "mcp.call", "server": "git", "tool": "git_diff",
         "arguments": {"repo_path": "/workspace", "target": "secrets/token"}},
        {"kind": "mcp.call", "server": "git", "tool": "git_diff",
         "arguments": {"repo_path": "/workspace", "target": "--output=/workspace/a"}},
        {"kind": "mcp.call", "server": "git", "tool": "git_status", "arguments": {},
         "annotations": {"readOnlyHint": 1, "x": None}},
        {"kind": "mcp.call", "server": "git", "tool": "t", "annotations": []},
    ]  # fmt: skip
    proc = run("eval", *POLICIES, stdin="".join(json.dumps(a) + "\n" for a in actions))
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o.get("decision") for o in out[:4]] == ["allow", "deny", "deny", "ask"]
    assert out[1]["rule"] == "files.read.deny[9]" and out[1]["source"].endswith("default.yaml:24")
    assert "`secrets/token`" in out[1]["reason"]
    assert out[2]["source"].endswith("mcp-git.yaml:95")
    assert "annotations" in out[4]["error"]


def test_policy_explain_names_the_argument_rule_and_the_judged_paths() -> None:
    action = {"kind": "mcp.call", "server": "git", "tool": "git_show",
              "arguments": {"repo_path": "/workspace", "revision": "HEAD:.env"}}  # fmt: skip
    proc = run("explain", *POLICIES, "--action", json.dumps(action))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "matched deny  mcp.tools[7] `git.git_show` {revision: glob *:*}" in text
    assert "ignored allow mcp.tools[4] `git.git_show` {" in text
    assert "argument `revision` does not satisfy regex" in text
    assert "file    argument `revision` means reading `.env`: denied by files.read.deny[0]" in text
    assert "matched deny  files.read.deny[0] `.env` [org layer" in text
    assert "final: deny by mcp.tools[7]" in text
    data = json.loads(run("explain", "--json", *POLICIES, "--action", json.dumps(action)).stdout)
    assert any(m.get("constraints") == "revision: glob *:*" for m in data["matched"])
    assert any("means reading `.env`" in f for f in data["files"])


def test_policy_test_runs_the_shipped_git_layer_tests() -> None:
    proc = run("test", str(EXAMPLES / "mcp-git.tests.yaml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 failed" in proc.stdout


def test_the_argument_rules_example_in_the_docs_loads_and_means_what_it_says() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "policy.md").read_text()
    section = doc[doc.index("### Arguments (`policies/mcpargs.py`)") :]
    block = section[section.index("```yaml\n") + 8 : section.index("```\n", 8)]
    policy = load("version: 1\nfiles: {read: {allow: ['**']}}\n" + block)  # paths judged
    show = {"repo_path": "/workspace", "revision": "HEAD~1"}
    assert policy.evaluate(call("git_show", {"readOnlyHint": True}, **show)).decision == "allow"
    diff = {"repo_path": "/workspace", "target": "--output=x"}
    assert policy.evaluate(call("git_diff", {"readOnlyHint": True}, **diff)).decision == "deny"
    assert policy.evaluate(call("git_commit", None, message="m")).decision == "ask"


def test_rule_examples_carry_annotations_and_arguments() -> None:
    text = """version: 1
mcp:
  servers: {s: {decision: allow}}
  tools:
    - match: "s.*"
      decision: ask
      when: {destructive: true}
      examples:
        match: [s.any, {tool: s.any, annotations: {destructiveHint: true}}]
        not_match:
          - {tool: s.any, annotations: {readOnlyHint: true}}
          - {tool: s.any, annotations: {destructiveHint: false}, arguments: {x: 1}}
"""
    policy = load(text)
    assert policy.evaluate(McpCall(server="s", tool="t")).decision == "ask"
    read_only = McpCall(server="s", tool="t", annotations={"readOnlyHint": True})
    assert policy.evaluate(read_only).rule == "builtin:default"
