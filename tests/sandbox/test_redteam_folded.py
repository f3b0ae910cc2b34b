"""Red team of the folded change set, the kept worker threads and the warm pool's bigger
tmpfs (real containers, real policies): what the host applies is what it judged."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from policies import PolicySet
from sandbox import RunResult, Sandbox, SandboxError, SandboxLimits, SandboxSpec
from sandbox.changes import Change, Judge, Verdict
from sandbox.policy_bridge import policy_judge, readable, spec_from_policy
from sandbox.pool import SandboxPool
from tests.sandbox.conftest import RUNTIMES, real_policy

pytestmark = pytest.mark.docker
BOTH_RUNTIMES = pytest.mark.parametrize("runtime", RUNTIMES, indirect=True)

DISK = 8 * 1024 * 1024
JUDGED = 7_000_000  # past the folded contents (1 MiB) and a prefetch batch (6 MiB)
GROWN = 30_000_000


def spec_for(
    policy: PolicySet, ws: Path, image: str, runtime: str = "runc", **limits: object
) -> SandboxSpec:
    spec = spec_from_policy(policy, ws, image=image)
    values = spec.limits.model_dump() | {"tmp_size": "16m", "home_size": "16m"} | limits
    return spec.model_copy(update={"limits": SandboxLimits(**values), "runtime": runtime})


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "README.md").write_text("hello\n")
    (root / ".env").write_text("API_KEY=topsecret\n")
    return root


@pytest.fixture
def pool(tmp_path: Path, image: str, runtime: str) -> Iterator[SandboxPool]:
    """Filled under `runc`, or `gvisor` where a test parametrizes `runtime`."""
    empty = tmp_path / "pool"
    empty.mkdir()
    spec = spec_for(real_policy(), empty, image, runtime, disk="8m")
    with SandboxPool(spec, size=1) as filled:
        filled.wait_ready(timeout=120)
        yield filled


def adopt(
    sb: Sandbox, pool: SandboxPool, policy: PolicySet, ws: Path, image: str, judge: Judge
) -> None:
    """The session's spec (limits.disk 8 MiB, the pool's runtime) and judge."""
    spec = spec_for(policy, ws, image, pool.spec.runtime, disk="8m")
    sb.adopt(spec, readable=readable(policy), judge=judge)


def poke(box: Sandbox, path: str) -> None:
    """Make a file in the sandbox without a sync (what a concurrent caller's write does)."""
    box.executor.request({"op": "write", "path": path, "content_b64": ""}, 30.0)


def race(
    pool: SandboxPool, policy: PolicySet, ws: Path, image: str, path: str, first: str, act: str
) -> tuple[RunResult, list[Change], RunResult | SandboxError | None]:
    """Command `first` writes `path`; while the host judges the first change of `path`,
    a concurrent command on another worker does `act` (between the verdict and the copy).
    Returns the first command's result, the changes of `path` judged, and how the
    concurrent command ended (its result, or the SandboxError it raised)."""
    judged: list[Change] = []
    raced = threading.Event()
    sb = pool.acquire()

    def judge(change: Change) -> Verdict:
        if change.path == path and not judged:
            judged.append(change)
            poke(sb, "go")  # the concurrent command acts now
            assert raced.wait(timeout=60.0)
        return policy_judge(policy)(change)

    def on_output(_stream: str, text: str) -> None:
        if "raced" in text:
            raced.set()

    racer = (
        f"while [ ! -e go ]; do sleep 0.01; done; {act}; echo raced; "
        "while [ ! -e end ]; do sleep 0.01; done"
    )
    ended: list[RunResult | SandboxError] = []

    def second() -> None:
        try:
            ended.append(sb.run(racer, on_output=on_output))
        except SandboxError as exc:  # its sandbox was replaced under it (fail closed)
            ended.append(exc)

    try:
        adopt(sb, pool, policy, ws, image, judge)
        worker = threading.Thread(target=second)
        worker.start()
        result = sb.run(first)
        poke(sb, "end")
        worker.join(timeout=90.0)
        assert not worker.is_alive()
    finally:
        sb.close()
    return result, judged, ended[0] if ended else None


@BOTH_RUNTIMES
def test_a_file_grown_by_a_concurrent_command_after_it_was_judged_does_not_reach_the_host(
    pool: SandboxPool, ws: Path, image: str
) -> None:
    """A pooled sandbox's tmpfs has room for far more than limits.disk. Command A writes a
    file the host judges at 7 MB (within limits.disk); while the host judges it, command B
    (running concurrently on another worker) appends 30 MB to it; the host must not copy
    out 37 MB that it judged as 7."""
    result, judged, other = race(
        pool,
        real_policy(),
        ws,
        image,
        "grow.bin",
        f"head -c {JUDGED} /dev/zero > grow.bin",
        f"head -c {GROWN} /dev/zero >> grow.bin",
    )
    assert isinstance(other, RunResult)
    assert judged and judged[0].size == JUDGED
    host = ws / "grow.bin"
    size = host.stat().st_size if host.exists() else 0
    assert size <= DISK, f"the host took {size} bytes; limits.disk is {DISK}"
    assert size in (0, JUDGED)
    if size == 0:
        assert "grow.bin" in {o.path for o in result.changes.refused}


def test_a_file_replaced_after_it_was_judged_is_not_copied_out_with_other_bytes(
    pool: SandboxPool, ws: Path, image: str
) -> None:
    """Variant: B truncates and rewrites the judged file with a different length between
    the verdict and the copy: the host keeps what it had (nothing), never unjudged bytes."""
    _, _, other = race(
        pool,
        real_policy(),
        ws,
        image,
        "swap.bin",
        f"head -c {JUDGED} /dev/zero > swap.bin",
        "printf 'other bytes, never judged' > swap.bin",
    )
    assert isinstance(other, RunResult)
    host = ws / "swap.bin"
    assert not host.exists() or host.stat().st_size == JUDGED


def test_a_big_file_next_to_small_ones_is_copied_out_whole_and_judged_like_them(
    pool: SandboxPool, ws: Path, image: str
) -> None:
    """Held: small files ride in the folded reply, the 2 MB one is read after; a denied
    small file beside them never reaches the host."""
    policy = real_policy(write_deny=("denied/**",))
    sb = pool.acquire()
    try:
        adopt(sb, pool, policy, ws, image, policy_judge(policy))
        result = sb.run(
            "mkdir -p small denied; for i in 1 2 3; do echo $i > small/$i.txt; done; "
            "echo no > denied/x.txt; head -c 2000000 /dev/urandom > big.bin; "
            "sha256sum big.bin"
        )
        digest = result.stdout.split()[0]
    finally:
        sb.close()
    assert hashlib.sha256((ws / "big.bin").read_bytes()).hexdigest() == digest
    assert [(ws / f"small/{i}.txt").read_text() for i in (1, 2, 3)] == ["1\n", "2\n", "3\n"]
    assert not (ws / "denied" / "x.txt").exists()
    assert "denied/x.txt" in {o.path for o in result.changes.refused}


def test_a_denied_write_by_a_concurrent_command_is_judged_in_the_other_commands_reply(
    pool: SandboxPool, ws: Path, image: str
) -> None:
    """Held: B writes a denied file and an allowed one while A runs; whichever reply carries
    them, the denied one is refused and put back, the allowed one applied."""
    policy = real_policy(write_deny=("locked.txt",))
    (ws / "locked.txt").write_text("original\n")
    sb_done = threading.Event()
    sb = pool.acquire()
    try:
        adopt(sb, pool, policy, ws, image, policy_judge(policy))
        results = []

        def second() -> None:
            results.append(sb.run("echo HACKED > locked.txt; echo ok > free.txt"))
            sb_done.set()

        thread = threading.Thread(target=second)
        waiter = threading.Thread(
            target=lambda: results.append(
                sb.run("while [ ! -s free.txt ]; do sleep 0.01; done; echo seen")
            )
        )
        waiter.start()
        thread.start()
        assert sb_done.wait(timeout=60.0)
        waiter.join(timeout=60.0)
        thread.join(timeout=60.0)
        assert sb.run("cat locked.txt").stdout == "original\n"
    finally:
        sb.close()
    refused = {o.path for r in results for o in r.changes.refused}
    assert "locked.txt" in refused
    assert (ws / "locked.txt").read_text() == "original\n"
    assert (ws / "free.txt").read_text() == "ok\n"


@BOTH_RUNTIMES
def test_a_daemon_that_outlives_a_concurrent_command_cannot_write_after_the_sweep(
    pool: SandboxPool, ws: Path, image: str
) -> None:
    """Held: while B keeps a worker busy (its tree is spared by A's sweep), A's setsid'd,
    env-scrubbed daemon is still killed when A ends; nothing it would write later appears."""
    policy = real_policy()
    sb = pool.acquire()
    try:
        adopt(sb, pool, policy, ws, image, policy_judge(policy))
        b = threading.Thread(target=lambda: sb.run("while [ ! -e end ]; do sleep 0.01; done"))
        b.start()
        sb.run(
            "setsid env -i /bin/sh -c 'while :; do date +%s%N >> late.txt; sleep 0.05; done' "
            "</dev/null >/dev/null 2>&1 & echo started > started.txt; sleep 0.3"
        )
        # the pattern does not match this command's own arguments
        leftover = sb.run("pgrep -fc 'late[.]txt; sleep' || true")
        later = sb.run("cat late.txt 2>/dev/null | wc -c")
        poke(sb, "end")
        b.join(timeout=60.0)
        assert not b.is_alive()
    finally:
        sb.close()
    assert leftover.stdout.strip() == "0"
    shown = (ws / "late.txt").read_bytes() if (ws / "late.txt").exists() else b""
    assert shown  # the daemon ran before its command ended
    assert int(later.stdout.strip() or 0) == len(shown)  # nothing written after the sweep


@pytest.mark.parametrize("target", ["/proc/self", "/etc", "../../proc/1"])
def test_a_folder_swapped_for_a_symlink_out_of_the_workspace_after_judging_copies_nothing_out(
    pool: SandboxPool, ws: Path, image: str, target: str
) -> None:
    """B swaps the judged file's folder for a symlink leaving /workspace (the executor's
    own /proc entry, the image's /etc) between the verdict and the copy: the host never
    gets bytes from outside the workspace under the judged name."""
    result, judged, _ = race(
        pool,
        real_policy(),
        ws,
        image,
        "d/environ",
        f"mkdir d && head -c {JUDGED} /dev/zero > d/environ",
        f"mv d d.old && ln -s {target} d",
    )
    assert judged
    host = ws / "d" / "environ"
    assert not host.exists() or host.read_bytes() == b"\0" * JUDGED
    assert "d/environ" in {o.path for o in result.changes.refused} or host.exists()
