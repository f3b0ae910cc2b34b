"""The file wall, attacked for real: what the policy denies is not in the sandbox's view, and
what the sandbox changes reaches the host only when the policy allows that path."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from policies import PolicySet
from sandbox import Sandbox
from tests.sandbox.conftest import RUNTIMES, SandboxFactory

pytestmark = pytest.mark.docker
# what depends on the container's kernel runs under runc and gVisor
BOTH_RUNTIMES = pytest.mark.parametrize("runtime", RUNTIMES, indirect=True)

SECRET = "TOPSECRET-c0ffee"


def policy(read_deny: list[str], write_deny: list[str], extra: str = "") -> PolicySet:
    text = (
        "version: 1\nname: wall\ndefault: allow\n"
        f"files:\n  read: {{allow: ['**'], deny: {read_deny!r}}}\n"
        f"  write: {{allow: ['**'], deny: {write_deny!r}}}\n"
        "limits: {memory: 256m, timeout_s: 20}\n" + extra
    )
    return PolicySet.from_texts([("org", "wall.yaml", text)])


def tree(root: Path) -> dict[str, str]:
    """Every entry under `root` with its type (and target or bytes), for before/after."""
    out: dict[str, str] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            full = Path(dirpath) / name
            rel = str(full.relative_to(root))
            if full.is_symlink():
                out[rel] = "-> " + os.readlink(full)
            elif full.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = full.read_bytes().decode(errors="replace")
    return out


def git(ws: Path, *args: str) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(ws.parent), "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@x", *args],
        cwd=ws, env=env, check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_ws(tmp_path / "ws")


def make_ws(root: Path) -> Path:
    """src/pkg with a test, config/credentials.json (the secret), .env."""
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "test_a.py").write_text("def test_a():\n    assert 1\n")
    (root / "src" / "pkg" / "mod.py").write_text("X = 1\n")
    (root / "config").mkdir()
    (root / "config" / "credentials.json").write_text(SECRET)
    (root / "config" / "app.toml").write_text("debug = false\n")
    (root / ".env").write_text("API_KEY=not-the-secret\n")
    return root


def run(box: Sandbox, cmd: str) -> str:
    result = box.run(cmd)
    return result.stdout + result.stderr


# 1. a write-denied file replaced by renaming its parent
@pytest.mark.parametrize(
    "attack",
    [
        "mv src src_old && mkdir -p src/pkg && echo HACKED > src/pkg/test_a.py",
        "mv src/pkg/test_a.py /tmp/x; echo HACKED > src/pkg/test_a.py",  # variant: move away
        "rm -rf src && mkdir -p src/pkg && echo HACKED > src/pkg/test_a.py",
        "ln -s pkg src/alias && echo HACKED > src/alias/test_a.py",  # variant: via a new symlink
    ],
)
@BOTH_RUNTIMES
def test_a_write_denied_file_survives_renames_and_replacements(
    ws: Path, image: str, make_sandbox: SandboxFactory, attack: str
) -> None:
    before = (ws / "src/pkg/test_a.py").read_text()
    with make_sandbox(ws, image, policy=policy([], ["**/test_*.py"])) as box:
        out = box.run(attack)
        assert "write refused" in out.stderr
        assert box.run("cat src/pkg/test_a.py").stdout == before  # put back in the sandbox too
    assert (ws / "src/pkg/test_a.py").read_text() == before


# 2. a read-denied file stays hidden after a rename, in the next sandbox and after kill 1
def test_renaming_a_parent_never_exposes_a_read_denied_file(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    pol = policy(["config/credentials.json"], [])
    with make_sandbox(ws, image, policy=pol) as box:
        assert SECRET not in run(box, "cat config/credentials.json; mv config cfg; ls -R")
        assert "Operation not permitted" in run(box, "kill -TERM 1")
        box.restart()
        out = run(box, "cat cfg/credentials.json config/credentials.json; grep -r TOPSECRET .")
        assert SECRET not in out
    assert (ws / "config/credentials.json").read_text() == SECRET  # the host kept it


# 3. new files the policy denies are never created on the host
def test_new_files_the_policy_denies_are_not_created(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    pol = policy([], ["conftest.py", "**/conftest.py", "**/test_*.py"])
    (ws / "fix.py").write_text(
        "open('conftest.py','w').write('import pytest\\n')\n"
        "open('src/test_new.py','w').write('def test_x(): pass\\n')\n"
        "open('src/ok.py','w').write('Y = 2\\n')\n"
    )
    with make_sandbox(ws, image, policy=pol) as box:
        result = box.run("python3 fix.py")
    refused = {o.path for o in result.changes.refused}
    assert refused == {"conftest.py", "src/test_new.py"}
    assert not (ws / "conftest.py").exists() and not (ws / "src/test_new.py").exists()
    assert (ws / "src/ok.py").read_text() == "Y = 2\n"


# 4. a planted repository never reaches the host, at any depth
@pytest.mark.parametrize(
    "attack",
    [
        "mkdir -p .git && printf '[core]\\n\\tfsmonitor = touch /tmp/pwned\\n' > .git/config",
        "git init -q . && git config core.fsmonitor 'touch /tmp/pwned'",
        "mkdir -p sub && cd sub && git init -q && git config core.hooksPath /tmp",
        "printf 'gitdir: /tmp/evil\\n' > .git",
    ],
)
def test_a_planted_git_repository_is_never_applied(
    ws: Path, image: str, make_sandbox: SandboxFactory, attack: str
) -> None:
    before = tree(ws)
    with make_sandbox(ws, image, policy=policy([], [])) as box:  # the policy allows all writes
        out = box.run(attack)
    assert "write refused" in out.stderr
    after = tree(ws)
    assert not [path for path in after if ".git" in path.split("/")]
    assert {k: v for k, v in after.items() if k != "sub"} == before  # `mkdir sub` is allowed


def test_git_config_and_hooks_of_a_shown_repository_are_never_applied(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    git(ws, "init", "-q")
    git(ws, "add", "src")
    git(ws, "commit", "-qm", "init")
    config = (ws / ".git/config").read_text()
    with make_sandbox(ws, image, policy=policy([".env", "config/**"], [])) as box:
        out = box.run(
            "git config core.fsmonitor 'touch /tmp/pwned'; "
            "printf '#!/bin/sh\\ntouch /tmp/pwned\\n' > .git/hooks/pre-commit; "
            "echo changed >> src/pkg/mod.py; git -c user.name=a -c user.email=a@b commit -qam work"
        )
        assert "write refused: modified .git/config" in out.stderr
        assert "write refused: created .git/hooks/pre-commit" in out.stderr
    assert (ws / ".git/config").read_text() == config
    assert not (ws / ".git/hooks/pre-commit").exists()
    log = subprocess.run(["git", "log", "--oneline"], cwd=ws, capture_output=True, text=True)
    assert "work" in log.stdout  # the commit's objects and refs are data: they were applied


# 5. symlinks: a symlinked .git, a symlinked parent of a denied file, a symlinked denied folder
def test_a_symlinked_git_folder_is_judged_as_git(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    (ws / "realgit" / "hooks").mkdir(parents=True)
    os.symlink("realgit", ws / ".git")
    with make_sandbox(ws, image, policy=policy([], [])) as box:
        # not a repository git can list: the store is hidden, and its names are git's anyway
        assert box.view is not None and "realgit" in box.view.git_hidden
        box.run("echo 'touch /tmp/pwned' > .git/hooks/post-checkout; echo x > realgit/config")
        out = box.run("mkdir -p realgit/hooks && echo x > realgit/hooks/post-checkout")
    assert "write refused" in out.stderr
    assert sorted(os.listdir(ws / "realgit")) == ["hooks"]
    assert os.listdir(ws / "realgit" / "hooks") == []


def test_a_symlinked_parent_does_not_expose_a_denied_path(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    (ws / "environments" / "prod").mkdir(parents=True)
    (ws / "environments" / "prod" / "credentials.json").write_text(SECRET)
    os.rename(ws / "config", ws / "old-config")
    os.symlink("environments/prod", ws / "config")
    os.symlink("environments", ws / "envs")  # variant: a second hop
    pol = policy(["config/credentials.json", "old-config/**"], [])
    with make_sandbox(ws, image, policy=pol) as box:
        out = run(box, "cat config/credentials.json environments/prod/credentials.json "
                       "envs/prod/credentials.json; grep -r TOPSECRET . ")  # fmt: skip
    assert SECRET not in out


def test_a_symlinked_read_denied_folder_starts_and_stays_hidden(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    (ws / "vault").mkdir()
    (ws / "vault" / "token").write_text(SECRET)
    os.symlink("vault", ws / "secrets")
    with make_sandbox(ws, image, policy=policy(["secrets/**", "secrets", "config/**"], [])) as box:
        out = run(box, "cat secrets/token vault/token; grep -r TOPSECRET .")
    assert SECRET not in out


# 6. hard links into a denied folder
@BOTH_RUNTIMES
def test_hard_links_to_a_denied_file_are_hidden_and_cannot_be_made(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    (ws / "secrets").mkdir()
    (ws / "secrets" / "token").write_text(SECRET)
    os.link(ws / "secrets" / "token", ws / "src" / "t")
    with make_sandbox(ws, image, policy=policy(["secrets/**", "config/**"], [])) as box:
        out = run(box, "cat src/t; ln secrets/token src/t2; cat src/t2; grep -r TOPSECRET .")
    assert SECRET not in out


# 7. git history: a committed secret hides the object store; a clean one is shown
@pytest.mark.parametrize(
    "commands",
    [
        "git show HEAD:.env; git log -p; git diff 4b825dc642cb6eb9a060e54bf8d69288fbee4904 HEAD",
        "cat .git/objects/*/* | python3 -c 'import sys,zlib; print(sys.stdin.buffer.read())'",
        "git cat-file --batch-all-objects --batch=%\\(objectname\\) --unordered",
    ],
)
def test_a_secret_in_git_history_is_not_readable(
    ws: Path, image: str, make_sandbox: SandboxFactory, commands: str
) -> None:
    git(ws, "init", "-q")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "with secrets")
    git(ws, "rm", "-q", "--cached", ".env", "config/credentials.json")
    git(ws, "commit", "-qm", "drop them")
    with make_sandbox(ws, image, policy=policy([".env", "config/credentials.json"], [])) as box:
        out = run(box, commands)
        assert box.view is not None and ".git" in box.view.git_hidden
    assert SECRET not in out


def test_a_dropped_stash_hides_the_object_store_and_a_clean_repo_is_shown(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    pol = policy([".env", "config/**"], [])
    git(ws, "init", "-q")
    git(ws, "add", "src")
    git(ws, "commit", "-qm", "code only")
    with make_sandbox(ws, image, policy=pol) as box:
        assert "code only" in box.run("git log --oneline").stdout
    git(ws, "add", "-f", ".env")
    git(ws, "stash", "-q")
    git(ws, "stash", "drop", "-q")
    with make_sandbox(ws, image, policy=pol) as box:
        assert box.view is not None and "unreachable" in box.view.git_hidden[".git"]
        assert SECRET not in run(box, "git fsck --lost-found; cat .git/lost-found/other/*")


# 8. sandboxes that must start, and leave nothing behind
@pytest.mark.parametrize(
    ("files", "read_deny", "write_deny"),
    [
        ({"a.py": "x"}, [], ["**"]),  # review-only agent
        ({".env": SECRET}, [".env"], [".env"]),  # only write-denied entries
        ({"b\udcffad.txt": "x", "ok.txt": "y"}, [], []),  # a name that is not UTF-8
    ],
)
def test_odd_workspaces_start_and_leave_no_stub_behind(
    tmp_path: Path,
    image: str,
    make_sandbox: SandboxFactory,
    files: dict[str, str],
    read_deny: list[str],
    write_deny: list[str],
) -> None:
    root = tmp_path / "odd"
    root.mkdir()
    for name, text in files.items():
        (root / os.fsencode(name).decode("utf-8", "surrogateescape")).write_text(text)
    before = sorted(os.listdir(root))
    with make_sandbox(root, image, policy=policy(read_deny, write_deny)) as box:
        out = box.run("ls -A; echo new > n.txt")
    assert SECRET not in out.stdout
    assert sorted(os.listdir(root)) == sorted(before + ([] if "**" in write_deny else ["n.txt"]))


# 9. the workspace copy has a size limit
@BOTH_RUNTIMES
def test_writing_past_limits_disk_fails_with_enospc_and_reaches_nothing(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    pol = policy([], [], extra="")
    pol = PolicySet.from_texts(
        [("org", "wall.yaml", "version: 1\nname: d\ndefault: allow\n"
          "files: {read: {allow: ['**']}, write: {allow: ['**']}}\n"
          "limits: {memory: 512m, disk: 64m, timeout_s: 30}\n")]
    )  # fmt: skip
    with make_sandbox(ws, image, policy=pol) as box:
        out = box.run("head -c 600M /dev/zero > big.bin; echo rc=$?; ls -la big.bin")
    assert "No space left on device" in out.stderr
    size = (ws / "big.bin").stat().st_size if (ws / "big.bin").exists() else 0
    assert size <= 65 * 1024 * 1024  # limits.disk plus what the view holds, in whole MiB


# 10. no host exposure: no ACLs, files owned by the workspace's owner, no host path in mounts
@BOTH_RUNTIMES
def test_a_root_owned_workspace_gets_no_acl_and_new_files_belong_to_root(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    assert os.stat(ws).st_uid == os.geteuid() == 0
    with make_sandbox(ws, image, policy=policy([".env"], [])) as box:
        out = box.run("echo hi > made.txt; cat /proc/self/mountinfo")
    assert str(ws) not in out.stdout and str(ws.parent) not in out.stdout
    st = os.stat(ws / "made.txt")
    assert (st.st_uid, st.st_gid) == (0, 0)
    acl = subprocess.run(["getfacl", "-R", "-p", str(ws)], capture_output=True, text=True)
    assert "user:1000" not in acl.stdout and ":rwx" not in acl.stdout.replace("user::rwx", "")


# 11. nothing a command starts outlives it
@pytest.mark.parametrize(
    "start",
    [
        "setsid env -i sh -c 'while true; do echo x >> /workspace/bg.log; sleep 0.05; done' &",
        "(setsid nohup sh -c 'while :; do echo y >> /workspace/bg.log; sleep 0.05; done' &) &",
        "python3 -c 'import os,time\nif os.fork()==0:\n os.setsid()\n"
        ' while True: open("/workspace/bg.log","a").write("z"); time.sleep(0.05)\'',
    ],
)
@BOTH_RUNTIMES
def test_background_writers_die_with_their_command(
    ws: Path, image: str, make_sandbox: SandboxFactory, start: str
) -> None:
    with make_sandbox(ws, image, policy=policy([], [])) as box:
        box.run(start + " sleep 0.3")
        procs = box.run("ps -eo user,args --no-headers").stdout
        first = box.run("wc -c < bg.log").stdout
        box.run("sleep 0.5")
        second = box.run("wc -c < bg.log").stdout
    assert "sh -c" not in procs and "fork" not in procs
    assert first == second
