"""Escape attempts, for real, each with the precise way it fails."""

from __future__ import annotations

import pytest

from sandbox import Sandbox, SandboxRequestError
from tests.sandbox.conftest import RUNTIMES

# every attack runs under runc and under gVisor (the policy's `sandbox.runtime`)
pytestmark = [
    pytest.mark.docker,
    pytest.mark.parametrize("runtime", RUNTIMES, indirect=True, scope="module"),
]

CONNECT = (
    "import socket,sys\n"
    "s=socket.socket(); s.settimeout(3)\n"
    "try:\n    s.connect((sys.argv[1], int(sys.argv[2]))); print('CONNECTED')\n"
    "except OSError as e:\n    print('ERRNO', e.errno)\n"
)


@pytest.mark.parametrize(
    ("host", "port"), [("1.1.1.1", 53), ("8.8.8.8", 53), ("169.254.169.254", 80)]
)
def test_tcp_connect_out_fails_with_network_unreachable(
    sb: Sandbox, runtime: str, host: str, port: int
) -> None:
    result = sb.run(["python3", "-c", CONNECT, host, str(port)])
    # only loopback exists: ENETUNREACH (runc), EHOSTUNREACH (gVisor's own network stack)
    assert result.stdout.strip() == {"runc": "ERRNO 101", "gvisor": "ERRNO 113"}[runtime]


def test_dns_resolution_of_an_external_name_fails(sb: Sandbox) -> None:
    code = (
        "import socket\ntry:\n socket.getaddrinfo('pypi.org',443)\n"
        "except socket.gaierror as e:\n print('GAIERROR')"
    )
    assert sb.run(["python3", "-c", code]).stdout.strip() == "GAIERROR"


def test_raw_socket_is_refused_with_eperm(sb: Sandbox) -> None:
    code = (
        "import socket\ntry:\n socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)\n"
        "except PermissionError as e:\n print(e.errno)"
    )
    assert sb.run(["python3", "-c", code]).stdout.strip() == "1"


def test_docker_socket_is_absent(sb: Sandbox) -> None:
    code = (
        "import os\nfor p in ('/var/run/docker.sock', '/run/docker.sock'):\n"
        " try:\n  os.lstat(p); print('PRESENT')\n except FileNotFoundError:\n  print('ENOENT')"
    )
    assert sb.run(["python3", "-c", code]).stdout.split() == ["ENOENT", "ENOENT"]


PRCTL = (
    "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    "print(libc.prctl(39, 0, 0, 0, 0), libc.prctl(21, 0, 0, 0, 0))"  # NO_NEW_PRIVS, SECCOMP
)


def test_process_has_no_capabilities_and_no_new_privileges(sb: Sandbox, runtime: str) -> None:
    status = dict(
        line.split(":\t", 1) for line in sb.run("cat /proc/self/status").stdout.splitlines()
    )
    assert status["CapEff"] == status["CapPrm"] == status["CapBnd"] == "0000000000000000"
    assert status["Uid"].split()[0] == "1000"
    no_new_privs, seccomp = sb.run(["python3", "-c", PRCTL]).stdout.split()
    assert no_new_privs == "1"
    # runc: Docker's seccomp filter (mode 2). gVisor: every syscall is served by gVisor's
    # own kernel (itself under runsc's host filter); runsc 2022 would apply the OCI filter
    # to PID 1 only, and breaks threads when it does (docs/sandbox.md, gVisor)
    assert seccomp == {"runc": "2", "gvisor": "0"}[runtime]


@pytest.mark.parametrize(
    ("cmd", "message"),
    [
        ("mount -t tmpfs none /mnt", "must be superuser"),
        ("unshare -r true", "Operation not permitted"),
        ("unshare -m true", "Operation not permitted"),
        ("chroot / true", "Operation not permitted"),
    ],
)
def test_mount_unshare_and_chroot_fail(sb: Sandbox, runtime: str, cmd: str, message: str) -> None:
    if runtime == "gvisor" and cmd == "unshare -r true":
        # gVisor's kernel grants user namespaces (no seccomp filter on exec'd processes):
        # what that "root" can and cannot do is test_a_user_namespace_grants_nothing...
        assert sb.run(cmd).exit_code == 0
        return
    result = sb.run(cmd)
    assert result.exit_code != 0
    assert message in result.stderr


@pytest.mark.parametrize("path", ["/x", "/usr/x", "/etc/x", "/opt/rempart/new.py"])
def test_root_filesystem_is_read_only(sb: Sandbox, runtime: str, path: str) -> None:
    code = f"try:\n open({path!r}, 'a')\nexcept OSError as e:\n print(e.errno)"
    # EROFS; gVisor checks the (root-owned) folder's permission first: EACCES
    assert sb.run(["python3", "-c", code]).stdout.strip() == {"runc": "30", "gvisor": "13"}[runtime]


def test_a_root_filesystem_folder_the_sandbox_user_owns_is_still_read_only(sb: Sandbox) -> None:
    # /run/rempart-egress belongs to uid 1000 in the image: only the read-only root stops it
    code = "try:\n open('/run/rempart-egress/x', 'a')\nexcept OSError as e:\n print(e.errno)"
    assert sb.run(["python3", "-c", code]).stdout.strip() == "30"  # EROFS under both


def test_tmp_is_noexec(sb: Sandbox) -> None:
    result = sb.run("cp /bin/true /tmp/t && chmod +x /tmp/t && /tmp/t")
    assert result.exit_code == 126
    assert "Permission denied" in result.stderr


def test_symlink_to_host_paths_reaches_only_the_containers_own_unreadable_files(
    sb: Sandbox,
) -> None:
    result = sb.run("ln -sf /etc/shadow shadow-link && cat shadow-link; rm -f shadow-link")
    assert "Permission denied" in result.stderr
    with pytest.raises(SandboxRequestError) as err:
        sb.read_file("/etc/shadow")
    assert err.value.code == "path_escape"


def test_symlink_out_of_the_workspace_is_refused_by_file_tools(sb: Sandbox) -> None:
    sb.run("ln -sfn / rootlink")
    with pytest.raises(SandboxRequestError) as err:
        sb.read_file("rootlink/etc/passwd")
    assert err.value.code == "path_escape"
    with pytest.raises(SandboxRequestError) as err:
        sb.write_file("../escape.txt", b"x")
    assert err.value.code == "path_escape"
    sb.run("rm rootlink")


def test_the_container_runs_under_the_runtime_the_policy_asks(sb: Sandbox, runtime: str) -> None:
    host_config = sb.client.api.inspect_container(sb.container_id)["HostConfig"]
    assert host_config["Runtime"] == {"runc": "runc", "gvisor": "runsc"}[runtime]
    kernel_log = sb.run("cat /proc/version; dmesg 2>&1 | head -1").stdout
    assert ("gVisor" in kernel_log) == (runtime == "gvisor"), kernel_log
