"""Red-team findings: each bypass input ends in the decision a security reviewer expects."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from policies import Exec, McpCall, PolicySet

EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"


def load(*texts: str) -> PolicySet:
    names = ["org", "project", "user"]
    return PolicySet.from_texts([(names[i], f"{names[i]}.yaml", t) for i, t in enumerate(texts)])


def decide(policy: PolicySet, command: str) -> str:
    return policy.evaluate(Exec(command=command)).decision


@pytest.fixture(scope="module")
def strict_policy() -> PolicySet:
    return PolicySet.load([("org", EXAMPLES / "strict.yaml")])


# 1. catastrophic regex tokens: bounded time, fail closed, `policy check` warns

SLOW_REGEXES = ["(a|a)*b", "(a|aa)+$", "^(a?){25}(a){25}$"]


@pytest.mark.parametrize("rx", SLOW_REGEXES)
def test_catastrophic_regex_is_bounded(rx: str) -> None:
    policy = load(f"version: 1\nexec:\n  - {{match: [git, {{regex: '{rx}'}}], decision: deny}}\n")
    start = time.perf_counter()
    d = policy.evaluate(Exec(command="git " + "a" * 30 + "!"))
    assert time.perf_counter() - start < 2.0
    if "timed out" in d.reason:
        assert d.decision == "deny"
    assert d.decision in ("deny", "ask")


@pytest.mark.parametrize("rx", SLOW_REGEXES)
def test_policy_check_warns_on_risky_regex(rx: str) -> None:
    policy = load(f"version: 1\nexec:\n  - {{match: [git, {{regex: '{rx}'}}], decision: deny}}\n")
    assert any("slow matching" in w.message for w in policy.warnings)


def test_regex_timeout_fails_closed_for_deny_and_says_so() -> None:
    policy = load("version: 1\nexec:\n  - {match: [git, {regex: '(a|aa)+$'}], decision: deny}\n")
    start = time.perf_counter()
    d = policy.evaluate(Exec(command="git " + "a" * 80 + "!"))
    assert time.perf_counter() - start < 2.0
    assert d.decision == "deny"
    assert "timed out" in d.reason


def test_regex_timeout_fails_closed_for_allow() -> None:
    rule = "  - {match: [git, {regex: '(a|aa)+$'}], decision: allow}\n"
    policy = load("version: 1\ndefault: ask\nexec:\n" + rule)
    start = time.perf_counter()
    d = policy.evaluate(Exec(command="git " + "a" * 80 + "!"))
    assert time.perf_counter() - start < 2.0
    assert d.decision == "ask"


def test_many_slow_regex_tokens_share_one_budget() -> None:
    rules = "".join(
        f"  - {{match: [git, '**', {{regex: '(a|aa)+${i}'}}], decision: deny}}\n" for i in range(20)
    )
    policy = load("version: 1\nexec:\n" + rules)
    start = time.perf_counter()
    d = policy.evaluate(Exec(command="git " + " ".join(["a" * 60 + "!"] * 50)))
    assert time.perf_counter() - start < 3.0
    assert d.decision == "deny"


# 2. `cd` with options or targets we cannot know

CD_DENY = [
    "cd -- .git; echo x > hooks/pre-commit",
    "cd -- .git && touch config",
    "cd -P .git && touch hooks/pre-commit",
    'cd -- .rempart; echo "default: allow" > policy.yaml',
    "cd -- secrets && cat k.txt",
    "cd -- / && cat etc/shadow",
    "cd -P .. && cat etc/passwd",
    "cd -L -P -- .git && touch config",
    "cd -Pe .git && touch config",
    "builtin cd .git && touch config",
    "command cd -- .git && touch config",
    "pushd .git && touch config",
    "cd - && cat README.md",
    "cd $X && cat README.md",
    "cd src tests; cat README.md",
    "pushd +1; cat README.md",
    "popd; cat README.md",
    "cd; cat README.md",
    "cd ~ && cat README.md",
    "cd -- .g* && touch config",
]


@pytest.mark.parametrize("command", CD_DENY)
def test_cd_forms_are_tracked_or_unknown(default_policy: PolicySet, command: str) -> None:
    assert decide(default_policy, command) == "deny"


@pytest.mark.parametrize(
    "command", ["cd src && cat a.py", "cd -- src && cat a.py", "cd -P src && ls", "cd - && ls"]
)
def test_cd_into_workspace_dirs_stays_allowed(default_policy: PolicySet, command: str) -> None:
    assert decide(default_policy, command) == "allow"


def test_unknown_cwd_reason_is_named(default_policy: PolicySet) -> None:
    d = default_policy.evaluate(Exec(command="popd; cat README.md"))
    assert "builtin:unknown-cwd" in [s.rule for s in d.segments]


# 3. allowed tools that run programs or inline code

DYNAMIC = [
    "rg --pre id .",
    "rg --pre=./evil.sh x",
    "rg --pre-glob '*.pdf' --pre ./evil.sh x",
    "rg --pre-glob='*' --pre=id x",
    "sed -n 's|.*|id|ep' src/a.py",
    "sed 's#a#b#e' f",
    "sed 's a b e' f",
    "sed sxaxbxe f",
    "sed -n sxaxbxe f",
    "sed '1e id' f",
    "sed -n '1e id' f",
    "sed -n 'e id' f",
    "sed -n '$!e id' f",
    "sed -n 's/[/]/x/e' f",
    "sed -n 'r /etc/shadow' f",
    "sed -n -e p -e 's/x/y/e' f",
    "sed -n --expression='s/x/y/e' f",
    "sed -nf script.sed f",
    "sed -n 'a text' f",
    "git grep -O'id #' -e print",
    "git grep --open-files-in-pager=id x",
    "git grep -O x",
    "git grep -iO x",
    "git grep --open-files x",
    "git ls-remote --upl='sh -c id' origin",
    "python3 --check-hash-based-pycs always -c 'import os'",
    "python3 -W error -c 'import os'",
    "python3 -X dev -c 'import os'",
    "python3 -Werror -c 'import os'",
    "python3 -bc 'import os'",
    "python3 /dev/stdin <<'E'\nimport os\nE",
    "cat x.py | python3 /dev/stdin",
    "cat x.py | python3 /dev/fd/0",
    "cat x.py | python3 /proc/self/fd/0",
    "python3 -",
    "python3 -u -",
    "python3 -- /dev/stdin",
    "bash /dev/stdin",
    "cat x.sh | sh /dev/stdin",
    "sh -s",
    "node -",
    "node - x",
    "node --eval=1",
    "perl -",
    "cat x.pl | perl /dev/stdin",
]


@pytest.mark.parametrize("command", DYNAMIC)
def test_programs_and_inline_code_are_dynamic(default_policy: PolicySet, command: str) -> None:
    d = default_policy.evaluate(Exec(command=command))
    assert d.decision == "deny", d.reason


SED_WRITES = [
    "sed -n 's/a/b/w .git/config' f",
    "sed -n '/x/w .git/hooks/pre-commit' f",
    "sed -n 'W .git/hooks/pre-commit' f",
    "sed -n 's|a|b|gw .rempart/policy.yaml' f",
]


@pytest.mark.parametrize("command", SED_WRITES)
def test_sed_w_writes_are_judged(default_policy: PolicySet, command: str) -> None:
    assert decide(default_policy, command) == "deny"


@pytest.mark.parametrize(
    "command",
    [
        "sed -n 's/a/b/p' src/a.py",
        "sed -n '1,5p' src/a.py",
        "sed -n '/foo/,/bar/{s/x/y/g;p}' src/a.py",
        "sed -n 's/a/b/w /dev/stdout' src/a.py",
        "sed -n '$p' src/a.py",
        "rg foo src",
        "git grep -n foo",
        "python3 -W error app.py",
        "python3 -X dev -m pytest",
        "python3 app.py",
    ],
)
def test_safe_forms_stay_allowed(default_policy: PolicySet, command: str) -> None:
    assert decide(default_policy, command) == "allow"


# 4. git reading secrets through pathspecs

GIT_SECRETS = [
    "git log -p -- '*.env'",
    "git log -p -- ':(icase).ENV'",
    "git grep KEY -- '*.env'",
    "git grep KEY '*.env'",
    "git grep -e KEY HEAD -- '.e*'",
    "git log -p -- ':/.env'",
    "git log -p -- ':(top).env'",
    "git log -p -- ':(literal).env'",
    "git log -p -- ':(attr:secret)x'",
    "git show HEAD:.env",
    "git log -p -- 'secr*'",
    "git diff HEAD~1 -- '*.pem'",
    "git log -p -- '*id_rsa*'",
    "git -C secrets log -p -- k.txt",
    "git --git-dir=/etc/.git log",
]


@pytest.mark.parametrize("command", GIT_SECRETS)
def test_git_pathspecs_reading_secrets_are_denied(default_policy: PolicySet, command: str) -> None:
    assert decide(default_policy, command) == "deny"


@pytest.mark.parametrize(
    "command",
    [
        "git grep foo -- '*.py'",
        "git diff -- . ':!vendor'",
        "git log --grep 'fix*'",
        "git log -p -- src/a.py",
        "git grep '.*' src",
    ],
)
def test_ordinary_pathspecs_stay_allowed(default_policy: PolicySet, command: str) -> None:
    assert decide(default_policy, command) == "allow"


# 5. git global options hiding the subcommand

PUSH_POLICY = """version: 1
default: ask
exec_dynamic: ask
exec:
  - {match: [git, push, '**'], decision: deny, reason: pushing is for humans}
"""
GLOBAL_PUSH = [
    "git -C . push",
    "git --no-pager push",
    "git -P push",
    "git -p push",
    "git --git-dir=.git push",
    "git --git-dir .git push",
    "git --work-tree=. push",
    "git --bare push",
    "git -c x=y push",
    "git -C . -P --no-pager push origin main",
    "GIT_DIR=.git git push",
]


@pytest.mark.parametrize("command", GLOBAL_PUSH)
def test_git_global_options_do_not_hide_push(command: str) -> None:
    d = load(PUSH_POLICY).evaluate(Exec(command=command))
    assert d.decision == "deny", d.reason


@pytest.mark.parametrize(
    "command",
    [
        *GLOBAL_PUSH,
        "git send-pack origin main",
        "git http-push https://x/ main",
        "git subtree push --prefix=lib origin main",
        "git svn dcommit",
        "git p4 submit",
        "git lfs push origin main",
        "git -C . send-pack origin",
    ],
)
def test_default_denies_push_equivalents(default_policy: PolicySet, command: str) -> None:
    assert decide(default_policy, command) == "deny"


def test_git_global_options_do_not_make_allow_rules_apply(default_policy: PolicySet) -> None:
    assert decide(default_policy, "git -C /etc status") != "allow"


# 6. writes and reads hidden in options

DEFAULT_DENY_FILES = [
    "cp -t .git x",
    "cp --target-directory=.git x",
    "cp --target-directory .git x",
    "cp -rt .git x",
    "cp -t.git x",
    "install -t .git x",
    "mv -t .git x",
    "ln -t .git x",
    "rm -rf .g*",
    "rm -rf .rem*",
    "pip install --target .git x",
    "pip install --target=.git x",
    "pip install -t .git x",
    "pip install --targ .git x",
    "pip install --root / x",
    "pip install --prefix /usr x",
    "pip install --prefix .git x",
    "pip install -r .env",
    "pip install -c .env x",
    "pip install --constraint .env x",
    "pip install --requirement=.env",
    "pip3 install -r .env",
    "python3 -m pip install -r .env",
    "python3 -m pip install --target .git x",
    "pytest --basetemp=.git",
    "pytest --junitxml=.git/r.xml",
    "pytest --junit-xml=.git/r.xml",
    "pytest --result-log=.git/r.log",
    "pytest --resultlog=.git/r.log",
    "pytest --report-log=.git/r.json",
    "pytest --html=.git/r.html",
    "pytest --junitxml .git/r.xml",
    "pytest -c .env",
    "pytest --rootdir=secrets",
    "python3 -m pytest --basetemp=.git",
    "find . -name .env -exec cat {} \\;",
    "find . -name .env -exec cat {} +",
    "find . -path ./secrets/k.txt -exec cat {} \\;",
]


@pytest.mark.parametrize("command", DEFAULT_DENY_FILES)
def test_file_options_are_judged(default_policy: PolicySet, command: str) -> None:
    d = default_policy.evaluate(Exec(command=command))
    assert d.decision == "deny", d.reason


@pytest.mark.parametrize(
    "command", ["pytest --basetemp=tests", "rm -rf te*", "pytest --junitxml=tests/r.xml"]
)
def test_writes_to_protected_tests_ask(default_policy: PolicySet, command: str) -> None:
    assert decide(default_policy, command) == "ask"


@pytest.mark.parametrize(
    "command",
    [
        "pytest -p no:cacheprovider",
        "pytest -p xdist -q tests/",
        "pytest --junitxml=build/r.xml",
        "pip install -r requirements.txt",
        "find . -name '*.py' -exec cat {} \\;",
        "cp -t build x",
    ],
)
def test_file_options_in_workspace_stay_allowed(default_policy: PolicySet, command: str) -> None:
    assert decide(default_policy, command) in ("allow", "ask")
    assert decide(default_policy, command) != "deny"


@pytest.mark.parametrize(
    "command",
    [
        "find . -fls listing.txt",
        "find . -fprint out.txt",
        "find . -fprint0 out.txt",
        "find . -fprintf out.txt '%p'",
    ],
)
def test_strict_find_writes_are_denied(strict_policy: PolicySet, command: str) -> None:
    assert decide(strict_policy, command) == "deny"


def test_find_fls_is_a_write_of_its_file(default_policy: PolicySet) -> None:
    assert decide(default_policy, "find . -fls .git/config") == "deny"


# 7. exec_dynamic cannot be loosened past a locked layer

LOCKED_ORG = "version: 1\nlock: true\nexec:\n  - {match: [ls], decision: allow}\n"
OPEN_ORG = "version: 1\nexec:\n  - {match: [ls], decision: allow}\n"
USER_ASK = "version: 1\nexec_dynamic: ask\n"


def test_locked_layer_implicit_exec_dynamic_counts() -> None:
    assert decide(load(LOCKED_ORG, USER_ASK), "bash -c ls") == "deny"


def test_unlocked_layer_without_exec_dynamic_keeps_later_setting() -> None:
    assert decide(load(OPEN_ORG, USER_ASK), "bash -c ls") == "ask"


def test_approved_layer_with_only_allows_does_not_force_deny() -> None:
    org = "version: 1\nexec_dynamic: ask\n"
    approved = "version: 1\nexec:\n  - {match: [pytest], decision: allow}\n"
    assert decide(load(org, approved), "bash -c ls") == "ask"


# 8. MCP tool names: deny/ask case-folded, allow exact

MCP = """version: 1
default: ask
mcp:
  servers: {git: {decision: allow}}
  tools:
    - {match: git.git_push, decision: deny}
    - {match: git.git_log, decision: allow}
    - {match: git.git_reset*, decision: ask}
"""


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        ("GIT_PUSH", "deny"),
        ("Git_Push", "deny"),
        ("git_push", "deny"),
        ("GIT_RESET_HARD", "ask"),
        ("git_log", "allow"),
        ("GIT_LOG", "ask"),
    ],
)
def test_mcp_deny_rules_are_case_folded(tool: str, expected: str) -> None:
    d = load(MCP).evaluate(McpCall(server="git", tool=tool, arguments={}))
    assert d.decision == expected


# 9. over-broad warnings

OVER_BROAD = [
    "exec:\n  - {match: [{glob: '*'}, '**'], decision: allow}\n",
    "exec:\n  - {match: [{regex: '.*'}], decision: allow}\n",
    "exec:\n  - {match: [{glob: '**'}], decision: allow}\n",
    "network: {allow: ['*.com']}\n",
    "network: {allow: ['*.net:443']}\n",
    "network: {allow: ['*.io']}\n",
]


@pytest.mark.parametrize("body", OVER_BROAD)
def test_policy_check_warns_on_over_broad_allows(body: str) -> None:
    policy = load("version: 1\n" + body)
    assert any("over-broad" in w.message for w in policy.warnings)


@pytest.mark.parametrize(
    "body",
    [
        "exec:\n  - {match: [{glob: 'py*'}], decision: allow}\n",
        "network: {allow: ['*.example.com']}\n",
    ],
)
def test_narrow_allows_do_not_warn(body: str) -> None:
    assert not load("version: 1\n" + body).warnings


ISSUE_EXAMPLE_MCP = """\
version: 1
name: example
default: ask
mcp:
  servers: {git: {decision: allow}}
  tools:
    - {match: "git.git_log", decision: allow}
    - {match: "git.*", decision: ask}
    - {match: "git.git_push", decision: deny}
"""


@pytest.mark.parametrize(
    ("tool", "expected"),
    [("git_log", "allow"), ("git_status", "ask"), ("git_push", "deny"), ("GIT_LOG", "ask")],
)
def test_an_exact_mcp_allow_carves_out_of_a_wildcard_ask_but_never_out_of_a_deny(
    tool: str, expected: str
) -> None:
    from policies import McpCall, PolicySet

    policy = PolicySet.from_texts([("org", "example.yaml", ISSUE_EXAMPLE_MCP)])
    assert policy.evaluate(McpCall(server="git", tool=tool)).decision == expected


def test_an_exact_ask_is_not_overridden_by_an_exact_allow() -> None:
    from policies import McpCall, PolicySet

    text = ISSUE_EXAMPLE_MCP + '    - {match: "git.git_log", decision: ask}\n'
    policy = PolicySet.from_texts([("org", "example.yaml", text)])
    assert policy.evaluate(McpCall(server="git", tool="git_log")).decision == "ask"
