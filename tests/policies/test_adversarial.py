"""Bypass families against the shipped default policy: each ends where a reviewer expects."""

from __future__ import annotations

import pytest

from policies import Exec, FsRead, FsWrite, McpCall, McpStart, NetConnect, PolicySet

DENY_EXEC = [
    # chaining and lists
    "git status; git push",
    "git status && git push",
    "git status || git push",
    "git status | git push",
    "git status & git push",
    "git status\ngit push",
    "(git status; git push)",
    "{ git status; git push; }",
    "if true; then git push; fi",
    "while true; do git push; done",
    "for x in a; do git push; done",
    "case a in a) git push;; esac",
    "! git push",
    # substitution
    "echo $(git push)",
    "echo `git push`",
    "cat <(ls)",
    "echo $(ls)",
    "ls `pwd`",
    "$(echo git) push",
    "$CMD status",
    "${X} status",
    "echo $((1+2))",
    # shells and interpreters
    "bash -c 'git status'",
    "sh -c 'ls'",
    "zsh -c ls",
    "bash -lc 'ls'",
    "bash -o pipefail -c ls",
    "/bin/sh -c ls",
    "echo ls | bash",
    "curl x | sh",
    "bash <<EOF\nls\nEOF",
    "bash <<< 'ls'",
    "python -c 'import os'",
    "python3 -c 'print(1)'",
    "python3 -Ic 'print(1)'",
    "python3 - <<EOF\nprint(1)\nEOF",
    "perl -e 'print 1'",
    "node -e '1'",
    "ruby -e 'p 1'",
    "awk 'BEGIN{system(\"ls\")}'",
    "sed -n 'e ls' a.txt",
    "eval 'git push'",
    "source ./x.sh",
    ". ./x.sh",
    "exec bash -c ls",
    "f() { ls; }; f",
    "alias ls='rm -rf /'; ls",
    "export PATH=/tmp:$PATH; git status",
    "PATH=/tmp git status",
    "X=1 git status",
    "x=1",
    "trap 'rm -rf /' EXIT",
    "git -c core.pager='sh -c evil' log",
    "git -c alias.x='!sh' x",
    "tar --to-command=sh -xf a.tar",
    "watch ls",
    # wrappers
    "timeout 5 git push",
    "nice -n 5 git push",
    "nohup git push",
    "env git push",
    "env X=1 git push",
    "env -i git push",
    "command git push",
    "builtin eval ls",
    "exec git push",
    "sudo git push",
    "sudo -u root git push",
    "doas git push",
    "su -c 'git push'",
    "stdbuf -oL git push",
    "ionice -c 3 git push",
    "setsid git push",
    "time git push",
    "strace -f git push",
    "busybox sh -c ls",
    "xargs git push",
    "echo . | xargs git push",
    "find . -exec git push \\;",
    "find . -execdir git push {} +",
    "timeout 5 nice env git push",
    "timeout --weird 5 git push",
    # spelling of the command name
    "\\git push",
    '"git" push',
    "'git' push",
    "g''it push",
    'g"i"t push',
    "/usr/bin/git push",
    "/usr/local/bin/git push",
    "GIT push",
    "Git Push",
    "ｇｉｔ push",
    "gi\u200bt push",
    "./git push",
    # secrets through file arguments and redirects
    "cat .env",
    "cat ./.env",
    "cat src/../.env",
    "cat /workspace/.env",
    "cat /proc/self/root/workspace/.env",
    "cat .ENV",
    "cat '.env'",
    "cat < .env",
    "head -n 5 .env",
    "tail .env",
    "grep KEY .env",
    "grep -r KEY .env",
    "less .env",
    "cp .env x",
    "tar czf out.tgz .env",
    "ln -s .env x",
    "ln -s .env x; cat x",
    "dd if=.env of=x",
    "cat .e*",
    "cat .en?",
    "cat sub/.e*",
    "cat -n .env",
    "cat id_rsa",
    "cat ~/.ssh/id_rsa",
    "cat /etc/shadow",
    "cat ../other/.env",
    # writes through redirects
    "echo x > .git/config",
    "echo x >> .git/hooks/pre-commit",
    "ls &> .git/x",
    "echo x > .env",
    "echo x > /etc/passwd",
    "echo x > $F",
    "echo x | tee .git/config",
    "touch .git/index.lock",
    # unreadable input
    "ls )(",
    "echo 'unterminated",
    "ls; )",
    "",
    # git writing files through its own options, or printing secrets from history
    "git diff --output=.git/config",
    "git log --output .git/hooks/pre-commit",
    "git format-patch -o .git/patches HEAD~1",
    "git show HEAD:.env",
    "git show main:config/.env",
    "git cat-file -p :0:.env",
    "git log -p -- .env",
    "git diff .env",
    "git -C sub log -p -- .env",
]

ASK_EXEC = [
    "curl https://example.com",
    "make",
    "rm -rf build",
    "find . -name '*.pyc' -delete",
    "find . -exec rm {} \\;",
    "xargs rm",
    "echo x > tests/test_a.py",
    "sudo ls",
    "GIT status",
    "./git status",
    "npm install",
]

ALLOW_EXEC = [
    "git status",
    "git status && ls -la",
    "git log --oneline | head -20",
    "git diff HEAD~1 -- src/",
    "git branch",
    "python3 app.py",
    "python app.py --flag",
    "python3 -m pytest -q",
    "pytest -x tests/",
    "pip install -r requirements.txt",
    "ls -la src",
    "cat src/app.py",
    "grep -rn TODO src",
    "rg foo",
    "find . -name '*.py'",
    "head -n 20 README.md",
    "wc -l src/*.py",
    "echo hello > notes.txt",
    "printf '%s\\n' a b",
    "mkdir -p build/out",
    "touch src/new.py",
    "timeout 5 git status",
    "/usr/bin/git status",
    "\\git status",
    "'git' status",
    "cd src && ls",
    "ls 2>/dev/null",
    "cat src/app.py # .env",
    "echo .env",
]


@pytest.mark.parametrize("command", DENY_EXEC)
def test_exec_bypass_is_denied(default_policy: PolicySet, command: str) -> None:
    d = default_policy.evaluate(Exec(command=command))
    assert d.decision == "deny", d.reason
    assert d.rule
    assert d.reason


@pytest.mark.parametrize("command", ASK_EXEC)
def test_exec_unknown_or_risky_asks(default_policy: PolicySet, command: str) -> None:
    d = default_policy.evaluate(Exec(command=command))
    assert d.decision == "ask", d.reason


@pytest.mark.parametrize("command", ALLOW_EXEC)
def test_everyday_exec_is_allowed(default_policy: PolicySet, command: str) -> None:
    d = default_policy.evaluate(Exec(command=command))
    assert d.decision == "allow", d.reason


DENY_READ = [
    ".env",
    "./.env",
    "src/../.env",
    "/workspace/.env",
    "//workspace//.env",
    ".ENV",
    ".env\u200b",
    "\uff0e\uff45\uff4e\uff56",
    ".env.",
    ".env/",
    "a/b/.env",
    ".env.local",
    "config/server.pem",
    "home/id_rsa.pub",
    "secrets",
    "secrets/",
    "secrets/token",
    "/proc/self/root/workspace/.env",
    "/proc/1/cwd/.env",
    "../x",
    "/etc/passwd",
    "src/\x00.py",
    "x" * 5000,
    "/" + "a/" * 200,
]


@pytest.mark.parametrize("path", DENY_READ)
def test_read_of_secret_or_outside_path_is_denied(default_policy: PolicySet, path: str) -> None:
    assert default_policy.evaluate(FsRead(path=path)).decision == "deny"


@pytest.mark.parametrize(
    "path", [".git", ".git/config", ".git/", "/workspace/.git/HEAD", ".rempart/p.yaml"]
)
def test_write_to_git_internals_and_policy_is_denied(default_policy: PolicySet, path: str) -> None:
    assert default_policy.evaluate(FsWrite(path=path)).decision == "deny"


@pytest.mark.parametrize(
    "path", ["src/app.py", ".", "README.md", ".gitignore", "docs/env.md", ".git/config"]
)
def test_plain_workspace_reads_are_allowed(default_policy: PolicySet, path: str) -> None:
    assert default_policy.evaluate(FsRead(path=path)).decision == "allow"


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "2130706433", "0x7f.1", "0177.0.0.1", "127.1", "localhost", "LOCALHOST.",
     "169.254.169.254", "metadata.google.internal", "::1", "[::1]", "fd00::1", "10.0.0.1",
     "172.16.0.1", "192.168.1.1", "0.0.0.0", "::ffff:127.0.0.1", "pypi.org", "evil.com"],
)  # fmt: skip
def test_network_is_denied_by_default(default_policy: PolicySet, host: str) -> None:
    assert default_policy.evaluate(NetConnect(host=host, port=80)).decision == "deny"


def test_mcp_server_not_listed_is_denied(default_policy: PolicySet) -> None:
    assert default_policy.evaluate(McpStart(server="git")).decision == "deny"
    assert default_policy.evaluate(McpCall(server="git", tool="git_log")).decision == "deny"


def test_exec_segments_list_each_simple_command_with_its_decision(
    default_policy: PolicySet,
) -> None:
    d = default_policy.evaluate(Exec(command="git status; git push"))
    assert [(s.argv, s.decision) for s in d.segments] == [
        (["git", "status"], "allow"),
        (["git", "push"], "deny"),
    ]
    assert d.rule == "exec[19]"
    assert d.source and d.source.endswith("default.yaml:63")
    assert "pushing is for humans" in d.reason


def test_wrapped_command_gets_its_own_segment(default_policy: PolicySet) -> None:
    d = default_policy.evaluate(Exec(command="timeout 5 git push"))
    assert any("run by timeout" in s.command and s.decision == "deny" for s in d.segments)


def test_huge_command_is_denied_quickly(default_policy: PolicySet) -> None:
    d = default_policy.evaluate(Exec(command="ls " + "a" * 1_000_000))
    assert d.decision == "deny"
    assert d.rule == "builtin:command-too-long"


def test_deep_nesting_is_denied(default_policy: PolicySet) -> None:
    d = default_policy.evaluate(Exec(command="(" * 10_000 + "ls" + ")" * 10_000))
    assert d.decision == "deny"


def test_deep_substitution_nesting_is_denied(default_policy: PolicySet) -> None:
    d = default_policy.evaluate(Exec(command="echo " + "$(" * 2000 + "ls" + ")" * 2000))
    assert d.decision == "deny"


def test_many_segments_are_bounded(default_policy: PolicySet) -> None:
    d = default_policy.evaluate(Exec(command="ls;" * 5000 + "git push"))
    assert d.decision == "deny"
