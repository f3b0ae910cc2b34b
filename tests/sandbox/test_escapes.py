"""Escape attempts, for real, each with the precise way it fails."""

from __future__ import annotations

import pytest

from sandbox import Sandbox, SandboxRequestError

pytestmark = pytest.mark.docker

CONNECT = (
    "import socket,sys\n"
    "s=socket.socket(); s.settimeout(3)\n"
    "try:\n    s.connect((sys.argv[1], int(sys.argv[2]))); print('CONNECTED')\n"
    "except OSError as e:\n    print('ERRNO', e.errno)\n"
)


@pytest.mark.parametrize(
    ("host", "port"), [("1.1.1.1", 53), ("8.8.8.8", 53), ("169.254.169.254", 80)]
)
def test_tcp_connect_out_fails_with_network_unreachable(sb: Sandbox, host: str, port: int) -> None:
    result = sb.run(["python3", "-c", CONNECT, host, str(port)])
    assert result.stdout.strip() == "ERRNO 101"  # ENETUNREACH: only loopback exists


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
    result = sb.run("ls -l /var/run/docker.sock /run/docker.sock")
    assert result.exit_code == 2
    assert result.stderr.count("No such file or directory") == 2


def test_process_has_no_capabilities_and_no_new_privileges(sb: Sandbox) -> None:
    status = dict(
        line.split(":\t", 1) for line in sb.run("cat /proc/self/status").stdout.splitlines()
    )
    assert status["CapEff"] == status["CapPrm"] == status["CapBnd"] == "0000000000000000"
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2"
    assert status["Uid"].split()[0] == "1000"


@pytest.mark.parametrize(
    ("cmd", "message"),
    [
        ("mount -t tmpfs none /mnt", "must be superuser"),
        ("unshare -r true", "Operation not permitted"),
        ("unshare -m true", "Operation not permitted"),
        ("chroot / true", "Operation not permitted"),
    ],
)
def test_mount_unshare_and_chroot_fail(sb: Sandbox, cmd: str, message: str) -> None:
    result = sb.run(cmd)
    assert result.exit_code != 0
    assert message in result.stderr


@pytest.mark.parametrize("path", ["/x", "/usr/x", "/etc/x", "/opt/rempart/new.py"])
def test_root_filesystem_is_read_only(sb: Sandbox, path: str) -> None:
    code = f"try:\n open({path!r}, 'a')\nexcept OSError as e:\n print(e.errno)"
    assert sb.run(["python3", "-c", code]).stdout.strip() == "30"  # EROFS


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
