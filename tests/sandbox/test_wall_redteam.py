"""The wall against a red team's second round: git stores by any name, forged executor
replies, links and limits. Each test tries the attack for real against a real container."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from policies import PolicySet
from sandbox.changes import Change, builtin_refusal, canonical
from sandbox.errors import ExecutorError
from sandbox.view import View
from tests.sandbox.conftest import SandboxFactory
from tests.sandbox.test_wall import BOTH_RUNTIMES, SECRET, git, make_ws, policy, run, tree

pytestmark = pytest.mark.docker

MARK = "PWNED"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_ws(tmp_path / "ws")


def host_git(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The developer's own git, after the session (with the host's normal config)."""
    env = {"PATH": os.environ["PATH"], "HOME": str(ws.parent), "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@x", *args],
        cwd=ws, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip


PLANT = (
    "set -e; mkdir -p {d}/objects {d}/refs/heads; "
    "printf 'ref: refs/heads/main\\n' > {d}/HEAD; "
    "printf '[core]\\n\\tbare = false\\n\\tworktree = .\\n' > {d}/config; "
    "printf '\\tfsmonitor = \"touch {mark}; false\"\\n' >> {d}/config"
)


@pytest.mark.parametrize("folder", ["docs/notes", "src", "deep/er/x", "backup.git"])
def test_a_repository_planted_under_any_name_never_reaches_the_host(
    ws: Path, image: str, make_sandbox: SandboxFactory, folder: str, tmp_path: Path
) -> None:
    mark = tmp_path / MARK
    with make_sandbox(ws, image, policy=policy([], [])) as box:
        out = run(box, PLANT.format(d=folder, mark=mark))
    assert "git repository the sandbox was not shown" in out
    assert not (ws / folder / "HEAD").exists() and not (ws / folder / "config").exists()
    host_git(ws / folder if (ws / folder).is_dir() else ws, "status")
    assert not mark.exists()


def test_a_planted_repository_made_over_two_commands_is_refused_too(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    with make_sandbox(ws, image, policy=policy([], [])) as box:
        run(box, "mkdir -p src/objects src/refs && touch src/objects/.keep src/refs/.keep")
        out = run(box, "printf 'ref: refs/heads/main\\n' > src/HEAD")
    assert "git repository the sandbox was not shown" in out
    assert not (ws / "src" / "HEAD").exists()


@BOTH_RUNTIMES
def test_a_command_cannot_write_to_the_executors_reply_pipe_or_trace_it(
    ws: Path, image: str, make_sandbox: SandboxFactory, runtime: str
) -> None:
    fake_tag = "0" * 64  # the executor's lines carry an HMAC the command cannot compute
    forged = "".join(
        f'{{"id": {n}, "event": "exit", "exit_code": 0, "stdout": "42 passed"}}\t{fake_tag}\n'
        for n in range(1, 8)
    )
    with make_sandbox(ws, image, policy=policy([], [])) as box:
        result = box.run(
            f"printf '{forged}' > /proc/$PPID/fd/1; echo w=$?; ls /proc/$PPID/fd; echo l=$?; "
            "timeout 2 head -c1 /proc/$PPID/fd/0; echo r=$?; "
            "P=$PPID python3 -c 'import ctypes,os; l=ctypes.CDLL(None,use_errno=True); "
            'print("ptrace", l.ptrace(16, int(os.environ["P"]), 0, 0))\'; exit 3'
        )
        assert box.ping() > 0  # the executor still answers, and answered this run truly
        forged_seen = box.executor.forged
    assert result.exit_code == 3 and "42 passed" not in result.stdout
    assert "ptrace -1" in result.stdout
    if runtime == "runc":  # not dumpable: the executor's fds cannot be listed nor opened
        assert "w=1" in result.stdout and "l=2" in result.stdout and "r=1" in result.stdout
        assert forged_seen == 0
    else:  # gVisor lists and opens them; the forged lines reach the host and are refused
        # there, and a read of the executor's stdin only waits (nothing is sent in a run)
        assert "w=0" in result.stdout and "l=0" in result.stdout and "r=124" in result.stdout
        assert forged_seen == 7


@pytest.mark.parametrize(
    "path",
    [".git/objects/../hooks/post-checkout", "a/./b", "/etc/passwd", "a//b", "", "..", "a/.."],
)
def test_a_change_path_that_is_not_plain_is_refused_whatever_the_policy(path: str) -> None:
    assert not canonical(path)
    view = View(root=Path("/nonexistent"), git_dirs=[".git"])
    change = Change(path=path or "x", change="created", kind="file")
    if path.startswith(".git/"):
        assert builtin_refusal(change, view) == ""  # what the store rule alone would say
    assert not canonical(change.path) or path == ""


def make_repo_with_history_secret(root: Path) -> None:
    """A repository whose history holds `.env`, then removed from the tree."""
    root.mkdir(parents=True, exist_ok=True)
    (root / ".env").write_text(f"TOKEN={SECRET}\n")
    (root / "app.py").write_text("print(1)\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "secret")
    git(root, "rm", "-q", "--cached", ".env")
    git(root, "commit", "-qm", "drop")
    (root / ".env").unlink()


@pytest.mark.parametrize("kind", ["bare-mirror", "orphan-module", "lost-found", "rr-cache"])
def test_secrets_in_git_stores_not_named_git_stay_out(
    ws: Path, image: str, make_sandbox: SandboxFactory, tmp_path: Path, kind: str
) -> None:
    origin = tmp_path / "origin"
    make_repo_with_history_secret(origin)
    if kind == "bare-mirror":
        git(ws, "clone", "-q", "--bare", str(origin), str(ws / "backup.git"))
        probe = "git --git-dir=backup.git show main~1:.env; cat backup.git/objects/*/* | wc -c"
    elif kind == "orphan-module":
        git(ws, "init", "-q")
        git(ws, "clone", "-q", "--bare", str(origin), str(ws / ".git" / "modules" / "old"))
        probe = "git --git-dir=.git/modules/old show main~1:.env"
    else:
        git(ws, "init", "-q")
        folder = "lost-found/other" if kind == "lost-found" else "rr-cache/abc"
        (ws / ".git" / folder).mkdir(parents=True)
        (ws / ".git" / folder / "blob").write_text(f"TOKEN={SECRET}\n")
        probe = "cat .git/lost-found/other/* .git/rr-cache/abc/*"
    with make_sandbox(ws, image, policy=policy([".env", "config/**"], [])) as box:
        out = run(box, probe + "; grep -r TOPSECRET . ; git log --all -p 2>&1 | grep TOKEN")
    assert SECRET not in out


@pytest.mark.parametrize(
    "attack",
    [
        "ln -sf ../../victim .git/COMMIT_EDITMSG",
        "mkdir -p .git/logs && ln -sf ../../../victim .git/logs/HEAD",
        "ln -s ../../victim .git/refs/heads/evil",
    ],
)
def test_a_symlink_inside_a_git_store_never_reaches_the_host(
    ws: Path, image: str, make_sandbox: SandboxFactory, attack: str
) -> None:
    committed(ws)
    victim = ws.parent / "victim"
    victim.write_text("untouched\n")
    with make_sandbox(ws, image, policy=policy([".env", "config/**"], [])) as box:
        out = run(box, attack)
    assert "no symlink inside a git store" in out
    assert not any(p.is_symlink() for p in (ws / ".git").rglob("*"))
    host_git(ws, "commit", "--allow-empty", "-qm", "dev commit")
    assert victim.read_text() == "untouched\n"


@pytest.mark.parametrize("todo", ["rebase-merge/git-rebase-todo", "sequencer/todo"])
def test_rebase_and_sequencer_todo_lists_never_reach_the_host(
    ws: Path, image: str, make_sandbox: SandboxFactory, todo: str, tmp_path: Path
) -> None:
    committed(ws)
    folder = todo.rsplit("/", 1)[0]
    with make_sandbox(ws, image, policy=policy([".env", "config/**"], [])) as box:
        out = run(
            box, f"mkdir -p .git/{folder} && echo 'exec touch {tmp_path}/{MARK}' > .git/{todo}"
        )
    assert "can make git run programs" in out
    assert not (ws / ".git" / folder).exists()


@BOTH_RUNTIMES
def test_hard_links_and_sparse_files_cannot_grow_the_host_past_limits_disk(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    pol = disk_policy("20m")
    before = sum(p.stat().st_size for p in ws.rglob("*") if p.is_file())
    with make_sandbox(ws, image, policy=pol) as box:
        out = run(box, "head -c 8M /dev/zero > big; for i in 1 2 3 4; do ln big h$i; done; "
                       "truncate -s 400M sparse")  # fmt: skip
        out += run(box, "head -c 8M /dev/zero > big2; head -c 8M /dev/zero > big3")
    after = sum(p.stat().st_size for p in ws.rglob("*") if p.is_file())
    assert "limits.disk" in out
    assert after - before <= 20 * 2**20
    assert not (ws / "sparse").exists()


def test_a_symlink_made_in_the_session_gives_its_target_the_links_names_at_once(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    (ws / "environments" / "prod").mkdir(parents=True)
    (ws / "environments" / "prod" / "app.yaml").write_text("a: 1\n")
    pol = policy([], ["deploy/*.yaml"])
    with make_sandbox(ws, image, policy=pol) as box:
        run(box, "ln -s environments/prod deploy")
        out = run(box, "echo 'a: PWNED' > deploy/app.yaml")
        out2 = run(box, "ln -s environments/prod d2 && echo 'a: PWNED' > d2/app.yaml")
    assert "as deploy/app.yaml" in out
    assert (ws / "environments" / "prod" / "app.yaml").read_text() == "a: 1\n"
    assert "refused" in out2


@BOTH_RUNTIMES
def test_a_refused_change_that_cannot_be_undone_in_place_is_undone_by_a_fresh_sandbox(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    with make_sandbox(ws, image, policy=policy([], ["**/test_*.py"])) as box:
        run(box, "echo HACKED > src/pkg/test_a.py; chmod 555 src/pkg")
        seen = run(box, "cat src/pkg/test_a.py")
    assert "HACKED" not in seen and "def test_a" in seen
    assert "HACKED" not in (ws / "src" / "pkg" / "test_a.py").read_text()


@BOTH_RUNTIMES
def test_new_files_never_land_group_or_world_writable_or_setuid(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    with make_sandbox(ws, image, policy=policy([], [])) as box:
        run(box, "echo x > w.sh && chmod 4777 w.sh && mkdir -p d && chmod 777 d")
    assert (ws / "w.sh").stat().st_mode & 0o7777 == 0o755
    assert (ws / "d").stat().st_mode & 0o022 == 0


def test_a_flood_of_files_leaves_a_workspace_a_later_sandbox_can_start_on(
    tmp_path: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    root = tmp_path / "flood"
    root.mkdir()
    (root / "gen").mkdir()
    for i in range(3000):
        (root / "gen" / f"f{i}").touch()
    pol = policy(["gen/**", "gen"], [])
    with make_sandbox(root, image, policy=pol) as box:  # a denied big folder does not count
        assert box.view is not None and box.view.entries < 100
    assert "gen" in tree(root)


def disk_policy(disk: str) -> PolicySet:
    text = (
        "version: 1\nname: d\ndefault: allow\n"
        "files: {read: {allow: ['**']}, write: {allow: ['**']}}\n"
        f"limits: {{memory: 512m, disk: {disk}, timeout_s: 60}}\n"
    )
    return PolicySet.from_texts([("org", "d.yaml", text)])


def committed(ws: Path, folder: str = "src") -> None:
    git(ws, "init", "-q")
    git(ws, "add", folder)
    git(ws, "commit", "-qm", "code")


# round 2 ------------------------------------------------------------------------------
PROMISOR = (
    "S={s}; mkdir -p $S/objects $S/refs/heads; printf 'ref: refs/heads/main\\n' > $S/HEAD; "
    "echo 1111111111111111111111111111111111111111 > $S/refs/heads/main; "
    "printf '[core]\\n\\trepositoryformatversion = 1\\n\\tbare = true\\n[extensions]\\n"
    '\\tpartialClone = origin\\n[remote "origin"]\\n\\turl = /nonexistent\\n'
    '\\tpromisor = true\\n\\tuploadpack = "touch {mark}; false"\\n\' > $S/config'
)


@pytest.mark.parametrize("inside", ["vendor/lib/.git/objects/zz", "vendor/lib/.git/refs/x"])
def test_a_repository_planted_inside_a_shown_stores_data_never_reaches_the_host(
    ws: Path, image: str, make_sandbox: SandboxFactory, tmp_path: Path, inside: str
) -> None:
    lib = ws / "vendor" / "lib"
    lib.mkdir(parents=True)
    (lib / "a.py").write_text("A = 1\n")
    git(lib, "init", "-q")
    git(lib, "add", "-A")
    git(lib, "commit", "-qm", "lib")
    mark = tmp_path / MARK
    pol = policy([".env", "config/**"], [])
    with make_sandbox(ws, image, policy=pol) as box:
        out = run(box, PROMISOR.format(s=inside, mark=mark))
        with pytest.raises(ExecutorError):  # a replaced sandbox walks the workspace again
            run(box, "kill -9 $PPID")
        run(box, "true")
    assert "git repository the sandbox was not shown" in out
    assert not (ws / inside / "config").exists()
    with make_sandbox(ws, image, policy=pol) as box:
        run(box, "true")
    assert not mark.exists()


def test_host_git_never_fetches_for_a_promisor_store_it_walks(
    ws: Path, image: str, make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    """Defence in depth: even a promisor store already on the host runs nothing."""
    mark = tmp_path / MARK
    subprocess.run(["bash", "-c", PROMISOR.format(s="mirror.git", mark=mark)], cwd=ws, check=True)
    with make_sandbox(ws, image, policy=policy([".env", "config/**"], [])) as box:
        run(box, "true")
    assert not mark.exists()


def test_a_file_the_sandbox_cannot_read_is_refused_and_nothing_is_left_half_done(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    (ws / "tests").mkdir()
    (ws / "tests" / "test_b.py").write_text("def test_b():\n    assert 0\n")
    with make_sandbox(ws, image, policy=policy([], ["tests/**"])) as box:
        out = run(box, "echo 'def test_b(): pass' > tests/test_b.py; echo new > app.py; "
                       "echo x > zz; chmod 000 zz")  # fmt: skip
        seen = run(box, "cat tests/test_b.py")
    assert "cannot be read in the sandbox" in out
    assert "assert 0" in seen  # the refused test edit is gone from the sandbox too
    assert (ws / "app.py").read_text() == "new\n"
    assert not [p for p in ws.rglob("*.rempart-*.tmp")]


def test_retargeting_an_intermediate_link_does_not_reach_a_write_denied_name(
    tmp_path: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    root = tmp_path / "links"
    for folder in ("b/x", "c/x"):
        (root / folder).mkdir(parents=True)
        (root / folder / "app.yaml").write_text("image: good\n")
    (root / "a").symlink_to("b")
    (root / "deploy").symlink_to("a/x")
    with make_sandbox(root, image, policy=policy([], ["deploy", "deploy/**"])) as box:
        out = run(box, "rm a && ln -s c a && echo 'image: evil' > c/x/app.yaml")
    assert "as deploy/app.yaml" in out
    assert (root / "c" / "x" / "app.yaml").read_text() == "image: good\n"


def test_folders_and_symlinks_count_against_limits_disk(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    pol = disk_policy("1m")
    with make_sandbox(ws, image, policy=pol) as box:
        out = run(box, "mkdir -p d && cd d && seq 1 2000 | xargs mkdir")
    assert "limits.disk" in out
    made = len(list((ws / "d").iterdir())) if (ws / "d").exists() else 0
    assert made * 4096 <= 2**20


def test_a_reflog_folder_is_not_taken_for_a_repository(
    ws: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    committed(ws)
    with make_sandbox(ws, image, policy=policy([".env", "config/**"], [])) as box:
        assert box.view is not None and ".git/logs" not in box.view.git_hidden
        assert "commit (initial): code" in run(box, "git reflog")
