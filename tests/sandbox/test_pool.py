"""The warm pool: sandboxes booted empty, each adopted by one session with ITS policy's read
view and judge (real containers, real policies; docs/sandbox.md "Warm pool")."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from policies import PolicySet
from sandbox import Sandbox, SandboxError, SandboxLimits, SandboxSpec
from sandbox.container import list_resources
from sandbox.engine import LABEL_WORKSPACE, docker_client
from sandbox.policy_bridge import policy_judge, readable, spec_from_policy
from sandbox.pool import LABEL_POOL, Pools, SandboxPool
from sandbox.spec import pool_key
from tests.sandbox.conftest import make_workspace, real_policy

pytestmark = pytest.mark.docker

# every way the sandbox user could read a file it should not see
PEEKS = {
    "cat": "cat {p}",
    "ls -a": "ls -la $(dirname {p})",
    "find": "find /workspace",
    "python open": "python3 -c 'print(open(\"{p}\").read())'",
}


def small(spec: SandboxSpec, **limits: object) -> SandboxSpec:
    values = spec.limits.model_dump() | {"tmp_size": "16m", "home_size": "16m"} | limits
    return spec.model_copy(update={"limits": SandboxLimits(**values)})


def policy_spec(policy: PolicySet, ws: Path, image: str, **limits: object) -> SandboxSpec:
    return small(spec_from_policy(policy, ws, image=image), **limits)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_workspace(tmp_path)


@pytest.fixture
def other_ws(tmp_path: Path) -> Path:
    """Where the pool was filled: another workspace, with a file only it has."""
    root = tmp_path / "other"
    root.mkdir()
    ws = root / "ws"
    ws.mkdir()
    (ws / "pool-owner-only.txt").write_text("not yours\n")
    return ws


@contextlib.contextmanager
def adopted(pool: SandboxPool, policy: PolicySet, spec: SandboxSpec) -> Iterator[Sandbox]:
    """A pooled sandbox, adopted for `spec`'s workspace under `policy`; closed after."""
    pool.wait_ready(timeout=120)
    sb = pool.acquire()
    try:
        sb.adopt(spec, readable=readable(policy), judge=policy_judge(policy))
        yield sb
    finally:
        sb.close()


@pytest.fixture
def pooled(ws: Path, other_ws: Path, image: str) -> Iterator[tuple[SandboxPool, PolicySet]]:
    """A pool filled for `other_ws` under an allow-everything policy, and the session's
    policy (the usual sandbox-tests policy: .env, *.pem, secrets hidden)."""
    policy = real_policy()
    permissive = real_policy(read_deny=(), write_deny=())
    with SandboxPool(policy_spec(permissive, other_ws, image), size=1) as pool:
        yield pool, policy


def test_a_pooled_sandbox_is_booted_empty_and_knows_no_workspace(
    pooled: tuple[SandboxPool, PolicySet],
) -> None:
    pool, _ = pooled
    pool.wait_ready(timeout=120)
    sb = pool.acquire()
    try:
        listing = sb.executor.request({"op": "list", "path": ".", "recursive": True}, 30)
        assert listing["entries"] == []
        assert sb.view is None and sb.pooled
    finally:
        sb.close()


@pytest.mark.parametrize("peek", sorted(PEEKS))
def test_a_pooled_session_cannot_read_a_file_its_policy_hides(
    pooled: tuple[SandboxPool, PolicySet], ws: Path, image: str, peek: str
) -> None:
    pool, policy = pooled
    with adopted(pool, policy, policy_spec(policy, ws, image)) as sb:
        for path in ["/workspace/.env", "/workspace/env-hardlink", "/workspace/secrets/db.txt"]:
            result = sb.run(PEEKS[peek].format(p=path))
            shown = result.stdout + result.stderr
            assert "topsecret" not in shown and "password" not in shown, (peek, shown)
        assert sb.run("cat README.md").stdout == "hello\n"


def test_a_file_only_the_second_policy_denies_stays_hidden_from_a_pooled_session(
    pooled: tuple[SandboxPool, PolicySet], ws: Path, image: str
) -> None:
    """The pool was filled under a policy that shows everything, for another workspace:
    the adopting session's own policy decides, and nothing of the pool's workspace leaks."""
    pool, _ = pooled
    (ws / "notes").mkdir()
    (ws / "notes" / "private.txt").write_text("only-the-first-policy-shows-this\n")
    os.chown(ws / "notes" / "private.txt", 1000, 1000)
    policy = real_policy(read_deny=(".env", "notes/private.txt"))
    with adopted(pool, policy, policy_spec(policy, ws, image)) as sb:
        found = sb.run("find / -name private.txt -o -name pool-owner-only.txt 2>/dev/null")
        assert found.stdout == ""
        grep = sb.run("grep -rs only-the-first-policy /workspace /tmp /home; echo done")
        assert grep.stdout == "done\n"
        assert sb.run("ls notes").stdout == ""


def test_a_file_created_after_the_pool_was_filled_is_visible(
    pooled: tuple[SandboxPool, PolicySet], ws: Path, image: str
) -> None:
    pool, policy = pooled
    pool.wait_ready(timeout=120)
    (ws / "late.txt").write_text("made after the pool booted\n")
    with adopted(pool, policy, policy_spec(policy, ws, image)) as sb:
        assert sb.read_file("late.txt") == b"made after the pool booted\n"
        assert sb.run("echo new > made.txt").exit_code == 0
    assert (ws / "made.txt").read_text() == "new\n"


def test_a_write_the_policy_denies_does_not_reach_the_host_from_a_pooled_sandbox(
    pooled: tuple[SandboxPool, PolicySet], ws: Path, image: str
) -> None:
    pool, policy = pooled
    before = (ws / ".git" / "config").read_text()
    with adopted(pool, policy, policy_spec(policy, ws, image)) as sb:
        result = sb.run("echo '[evil]' > .git/config; echo x > .env; mkdir -p .git/hooks")
        assert {".env", ".git/hooks"} <= {o.path for o in result.changes.refused}
        assert not result.changes.applied
    assert (ws / ".git" / "config").read_text() == before
    assert (ws / ".env").read_text() == "API_KEY=topsecret\n"
    assert not (ws / ".git" / "hooks").exists()


def test_a_pooled_session_cannot_grow_the_host_workspace_past_limits_disk(
    ws: Path, other_ws: Path, image: str
) -> None:
    """A pooled sandbox's workspace tmpfs has room for half the memory limit plus
    limits.disk; the host still takes at most limits.disk of growth."""
    policy = real_policy()
    pool = SandboxPool(policy_spec(policy, other_ws, image, disk="1m"), size=1)
    with pool, adopted(pool, policy, policy_spec(policy, ws, image, disk="1m")) as sb:
        big = sb.run("head -c 3000000 /dev/zero > big.bin && ls -l big.bin")
        assert big.exit_code == 0  # the container had room for it
        assert [o.path for o in big.changes.refused] == ["big.bin"]
        assert "limits.disk" in big.changes.summary()
        split = sb.run("for i in 1 2 3; do head -c 600000 /dev/zero > part$i.bin; done; true")
        applied = {o.path for o in split.changes.outcomes if o.applied}
    assert not (ws / "big.bin").exists()
    assert len(applied) == 1  # 600 kB fits in 1 MiB once; the next two would pass it
    assert sum(p.stat().st_size for p in ws.glob("part*.bin")) <= 1024 * 1024


def test_adopting_with_a_spec_that_hardens_differently_is_refused(
    pooled: tuple[SandboxPool, PolicySet], ws: Path, image: str
) -> None:
    pool, policy = pooled
    pool.wait_ready(timeout=120)
    sb = pool.acquire()
    try:
        other = policy_spec(policy, ws, image, memory="512m")
        assert pool_key(other) != pool.key
        with pytest.raises(SandboxError, match="another hardening spec"):
            sb.adopt(other, readable=readable(policy), judge=policy_judge(policy))
    finally:
        sb.close()


def test_pools_hand_a_booted_sandbox_only_to_the_same_hardening_spec(
    ws: Path, other_ws: Path, image: str
) -> None:
    policy = real_policy()
    with Pools(size=1) as pools:
        pools.pool_for(policy_spec(policy, other_ws, image)).wait_ready(timeout=120)
        assert pools.take(policy_spec(policy, ws, image, memory="512m")) is None
        networked = real_policy(network_allow=("pypi.org",))
        assert pools.take(policy_spec(networked, ws, image)) is None
        sb = pools.take(policy_spec(policy, ws, image))
        assert sb is not None
        sb.close()


def test_a_handed_out_sandbox_is_never_handed_out_again_and_is_removed_at_close(
    pooled: tuple[SandboxPool, PolicySet], ws: Path, image: str
) -> None:
    pool, policy = pooled
    with adopted(pool, policy, policy_spec(policy, ws, image)) as first:
        session, container = first.session, first.container_id
    with adopted(pool, policy, policy_spec(policy, ws, image)) as second:
        assert second.container_id != container
    client = docker_client()
    try:
        assert session not in {r.session for r in list_resources(client)}
    finally:
        client.close()


FETCH = (
    "import sys, urllib.request\n"
    "opener = urllib.request.build_opener(*([urllib.request.ProxyHandler({})] * (sys.argv[2:] "
    "== ['direct'])))\n"
    "try:\n"
    "    r = opener.open(sys.argv[1], timeout=20); print('OK', r.status)\n"
    "except Exception as e:\n"
    "    print('FAIL', e)\n"
)


def test_a_pooled_sandbox_with_network_rules_goes_through_its_own_egress_proxy(
    ws: Path, other_ws: Path, image: str
) -> None:
    """The proxy path is booted with the pool; the session's denied host is refused by it
    and logged, and a connection around the proxy fails."""
    policy = real_policy(network_allow=("pypi.org:443",))
    spec = policy_spec(policy, ws, image)
    with Pools(size=1) as pools:
        pools.pool_for(policy_spec(policy, other_ws, image)).wait_ready(timeout=120)
        sb = pools.take(spec)
        assert sb is not None and sb.egress is not None
        try:
            sb.adopt(spec, readable=readable(policy), judge=policy_judge(policy))
            denied = sb.run(["python3", "-c", FETCH, "https://example.com/"], timeout_s=20)
            assert "403" in denied.stdout
            events = [e for e in sb.egress_events() if e.decision == "deny"]
            assert any("example.com" in e.target for e in events)
            direct = sb.run(["python3", "-c", FETCH, "http://1.1.1.1/", "direct"], timeout_s=20)
            assert direct.stdout.startswith("FAIL")
        finally:
            sb.close()


def test_a_pooled_sandbox_that_died_while_it_waited_is_removed_and_never_handed_out(
    ws: Path, image: str
) -> None:
    policy = real_policy()
    spec = policy_spec(policy, ws, image)
    client = docker_client()
    try:
        with Pools(size=1) as pools:
            pools.pool_for(spec).wait_ready(timeout=120)
            waiting = client.containers.list(
                filters={
                    "label": [f"{LABEL_POOL}={pool_key(spec)}", f"{LABEL_WORKSPACE}={pools.folder}"]
                }
            )
            assert len(waiting) == 1
            waiting[0].kill()
            assert pools.take(spec) is None
            gone = {c.id for c in client.containers.list(all=True, ignore_removed=True)}
            assert waiting[0].id not in gone
            pools.wait_ready(timeout=120)  # a replacement was booted
            sb = pools.take(spec)
            assert sb is not None and sb.container_id != waiting[0].id
            sb.close()
    finally:
        client.close()
