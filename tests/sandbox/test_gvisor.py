"""`sandbox.runtime: gvisor` end to end: the policy picks runsc, a lower layer cannot relax
it, a missing runsc fails closed, and attacks that gVisor's own kernel changes are tried."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policies import PolicySet
from sandbox import Sandbox
from sandbox.container import engine_runtime
from sandbox.engine import docker_client
from sandbox.errors import RuntimeMissing, SandboxError
from sandbox.spec import SandboxSpec
from tests.sandbox.conftest import RUNTIMES, SandboxFactory, policy_sandbox

pytestmark = pytest.mark.docker

ORG = "version: 1\nname: org\nsandbox: {runtime: gvisor}\n"
PROJECT = (
    "version: 1\nname: project\ndefault: allow\n"
    "files: {read: {allow: ['**']}, write: {allow: ['**'], deny: ['.git/**']}}\n"
    "limits: {memory: 256m, timeout_s: 20}\n"
    "sandbox: {runtime: runc}\n"
)


@pytest.mark.parametrize("runtime", ["gvisor"], indirect=True)
def test_a_project_asking_runc_under_an_org_gvisor_runs_under_runsc(
    tmp_path: Path, image: str, runtime: str
) -> None:
    policy = PolicySet.from_texts([("org", "org.yaml", ORG), ("project", "p.yaml", PROJECT)])
    assert policy.runtime.runtime == runtime
    with policy_sandbox(tmp_path, image, policy=policy) as box:
        host_config = box.client.api.inspect_container(box.container_id)["HostConfig"]
        kernel = box.run("dmesg | head -1").stdout
    assert host_config["Runtime"] == "runsc" and "gVisor" in kernel


def test_gvisor_asked_of_an_engine_without_that_runtime_fails_closed(
    tmp_path: Path, image: str
) -> None:
    # a runtime name this engine surely lacks stands for "runsc is not registered"
    absent = {"runc": "runc", "gvisor": "rempart-absent-runtime"}
    spec = SandboxSpec(workspace=tmp_path, image=image, runtime="gvisor")
    with pytest.raises(RuntimeMissing) as caught:
        engine_runtime(docker_client(), spec, absent)
    assert "sandbox.runtime: gvisor" in caught.value.message
    assert "rempart-absent-runtime" in caught.value.message
    assert "scripts/gvisor.sh" in (caught.value.hint or "")
    runc = spec.model_copy(update={"runtime": "runc"})
    assert engine_runtime(docker_client(), runc, absent) is None  # the engine's default


@pytest.mark.parametrize("runtime", RUNTIMES[1:], indirect=True)
def test_the_host_kernel_is_not_what_the_sandbox_sees(sb: Sandbox) -> None:
    seen = sb.run("uname -r; cat /proc/version").stdout
    assert os.uname().release not in seen  # gVisor answers for itself, not the host's kernel
    assert sb.run("dmesg | head -1").stdout.count("gVisor") == 1


NAMESPACE_ROOT = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def mount(src, target, fstype, flags):
    ok = libc.mount(src.encode(), target.encode(), fstype, flags, None) == 0
    return "ok" if ok else os.strerror(ctypes.get_errno())
print("uid", os.getuid())
print("mount-over-git", mount("none", ".git", b"tmpfs", 0))
print("remount-root-rw", mount("none", "/", None, 32 | 4096))
for path in ("/etc/x", "/opt/rempart/executor.py"):
    try:
        open(path, "a").write("x"); print("WROTE", path)
    except OSError as e:
        print("write", path, e.strerror)
try:
    open("/etc/shadow").read(); print("READ shadow")
except OSError as e:
    print("read /etc/shadow", e.strerror)
open(".git/config", "w").write("PWNED")
"""


@pytest.mark.parametrize("runtime", RUNTIMES[1:], indirect=True)
def test_a_user_namespace_under_gvisor_grants_nothing_outside_it(
    sb: Sandbox, workspace: Path
) -> None:
    # gVisor's kernel grants `unshare -r` (runc refuses it): its "root" cannot mount,
    # cannot make the root filesystem writable, cannot read or write root's files, and
    # what it writes in the workspace is judged like any write (.git is write-denied)
    before = (workspace / ".git" / "config").read_text()
    result = sb.run(
        ["unshare", "-rm", "--propagation", "unchanged", "python3", "-c", NAMESPACE_ROOT]
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "uid 0", result.stderr
    assert "mount-over-git Operation not permitted" in lines
    assert "remount-root-rw Operation not permitted" in lines
    assert "write /etc/x Permission denied" in lines
    assert "write /opt/rempart/executor.py Permission denied" in lines
    assert "read /etc/shadow Permission denied" in lines
    assert (workspace / ".git" / "config").read_text() == before
    assert sb.run("test -e /etc/x").exit_code == 1


@pytest.mark.parametrize("runtime", RUNTIMES, indirect=True)
def test_a_forged_reply_with_the_next_sequence_number_is_still_refused(
    tmp_path: Path, image: str, make_sandbox: SandboxFactory, runtime: str
) -> None:
    # invented variant: the attacker replays the *shape* of a real reply (right id, a tab,
    # a 64-hex tag) for every id the next requests could get; only the key makes a tag
    lines = "".join(
        f'{{"id":{n},"event":"result","pong":true,"pid":1,"version":2}}\\t{n:064x}\\n'
        for n in range(1, 40)
    )
    with make_sandbox(tmp_path, image) as box:
        box.run(f"printf '{lines}' > /proc/$PPID/fd/1 2>/dev/null; true")
        assert box.ping() > 1  # a real pid from the real executor, not the forged pid 1
        forged = box.executor.forged
    assert forged == (39 if runtime == "gvisor" else 0)


@pytest.mark.parametrize("runtime", RUNTIMES, indirect=True)
def test_ls_l_and_stat_work_under_both_runtimes(sb: Sandbox) -> None:
    # runsc 2022 refuses statx(AT_NO_AUTOMOUNT), which coreutils uses: the image's
    # statx_compat.so (preloaded under gVisor) asks again without the flag
    result = sb.run("ls -l README.md; stat -c '%s %U' README.md; ls -ld /etc")
    assert result.exit_code == 0, result.stderr
    assert "README.md" in result.stdout and "6 agent" in result.stdout
    assert "Invalid argument" not in result.stderr


@pytest.mark.parametrize("runtime", ["gvisor"], indirect=True)
def test_a_memory_hog_under_gvisor_fails_its_sandbox_closed_and_nothing_else(
    tmp_path: Path, image: str, make_sandbox: SandboxFactory
) -> None:
    # the host sees gVisor's kernel as the container's process: past limits.memory the
    # host OOM-kills or starves it, so the request fails with a sandbox error (gone, no
    # answer, no thread), never with the allocation granted; the workspace is untouched
    (tmp_path / "keep.txt").write_text("kept\n")
    hog = ["python3", "-c", "x = b'x' * (1 << 30); print('GRANTED')"]
    with make_sandbox(tmp_path, image) as box:
        try:
            result = box.run(hog, timeout_s=15)
        except SandboxError:
            pass  # the sandbox failed closed
        else:
            assert result.exit_code != 0 and "GRANTED" not in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    assert (tmp_path / "keep.txt").read_text() == "kept\n"
    with make_sandbox(tmp_path, image) as fresh:
        assert fresh.run("cat keep.txt").stdout == "kept\n"
