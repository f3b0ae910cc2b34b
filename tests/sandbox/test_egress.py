"""Egress allowlist through the proxy: exactly the listed host:port, checked after resolution."""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox import Sandbox, SandboxSpec
from tests.sandbox.conftest import RUNTIMES

pytestmark = pytest.mark.docker
# the egress path (forwarder -> proxy socket -> proxy) under runc and under gVisor
BOTH_RUNTIMES = pytest.mark.parametrize("runtime", RUNTIMES, indirect=True)

FETCH = (
    "import sys, urllib.request\n"
    "try:\n"
    "    r = urllib.request.urlopen(sys.argv[1], timeout=20); print('OK', r.status)\n"
    "except Exception as e:\n"
    "    print('FAIL', e)\n"
)


def _dns_query(name: str) -> bytes:
    header = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return header + qname + struct.pack(">HH", 1, 1)


DIRECT_DNS = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(8)\n"
    "s.sendto(bytes.fromhex(sys.argv[1]), ('127.0.0.11', 53))\n"
    "try:\n    data = s.recv(512); print('ANSWERS', int.from_bytes(data[6:8], 'big'))\n"
    "except OSError as e:\n    print('NOANSWER', e)\n"
)


@pytest.fixture(scope="module")
def net_sb(
    workspace: Path, image: str, make_spec: Callable[..., SandboxSpec], runtime: str
) -> Iterator[Sandbox]:
    spec = make_spec(
        workspace,
        image,
        network_allow=["pypi.org:443", "localhost:80", "10.0.0.1:80"],
        runtime=runtime,
    )
    with Sandbox(spec) as box:
        yield box


def _fetch(sb: Sandbox, url: str) -> str:
    return sb.run(["python3", "-c", FETCH, url], timeout_s=20).stdout.strip()


@BOTH_RUNTIMES
def test_allowlisted_host_is_reachable_through_the_proxy(net_sb: Sandbox) -> None:
    try:
        socket.getaddrinfo("pypi.org", 443)
    except OSError:
        pytest.skip("this host cannot resolve pypi.org")
    assert _fetch(net_sb, "https://pypi.org/simple/") == "OK 200"
    event = next(e for e in net_sb.egress_events() if e.host == "pypi.org")
    assert (event.decision, event.port, event.method) == ("allow", 443, "CONNECT")
    assert (event.sni, event.rule) == ("pypi.org", "network.allow[0]")


FRONTED = (
    "import socket, ssl, sys\n"
    "s = socket.create_connection(('127.0.0.1', 3128), timeout=20)\n"
    "s.sendall(b'CONNECT pypi.org:443 HTTP/1.1\\r\\nHost: pypi.org:443\\r\\n\\r\\n')\n"
    "assert s.recv(4096).startswith(b'HTTP/1.1 200')\n"
    "ctx = ssl.create_default_context(); ctx.check_hostname = False\n"
    "ctx.verify_mode = ssl.CERT_NONE\n"
    "try:\n"
    "    ctx.wrap_socket(s, server_hostname=sys.argv[1]); print('TLS OK')\n"
    "except (OSError, ssl.SSLError) as e:\n"
    "    print('FAIL', e)\n"
)


@BOTH_RUNTIMES
def test_domain_fronting_through_an_allowed_tunnel_is_refused(net_sb: Sandbox) -> None:
    try:
        socket.getaddrinfo("files.pythonhosted.org", 443)
    except OSError:
        pytest.skip("this host cannot resolve files.pythonhosted.org")
    out = net_sb.run(["python3", "-c", FRONTED, "files.pythonhosted.org"], timeout_s=30)
    assert out.stdout.startswith("FAIL"), out
    refused = [e for e in net_sb.egress_events() if e.sni == "files.pythonhosted.org"]
    assert refused and (refused[-1].decision, refused[-1].reason) == ("deny", "sni_mismatch")
    assert refused[-1].host == "pypi.org"
    ok = net_sb.run(["python3", "-c", FRONTED, "pypi.org"], timeout_s=30)
    assert ok.stdout.strip() == "TLS OK", ok


@pytest.mark.parametrize(
    ("url", "reason", "rule"),
    [
        ("https://example.com/", "not_allowlisted", "builtin:network-unlisted"),
        ("http://pypi.org/", "not_allowlisted", "builtin:network-unlisted"),
        ("https://1.1.1.1/", "not_allowlisted", "builtin:network-literal"),
        ("http://169.254.169.254/latest/meta-data/", "not_allowlisted", "builtin:network-literal"),
        ("http://0x7f000001/", "not_allowlisted", "builtin:network-literal"),
        ("http://10.0.0.1/", "ip_literal", "network.allow[2]"),  # named by a rule: still no
        ("http://localhost/", "blocked_address", "network.allow[1]"),
    ],
)
@BOTH_RUNTIMES
def test_everything_else_is_refused_and_logged(
    net_sb: Sandbox, url: str, reason: str, rule: str
) -> None:
    assert "403" in _fetch(net_sb, url)
    events = [e for e in net_sb.egress_events() if e.decision == "deny"]
    assert any(
        e.reason.startswith(reason) and e.rule == rule and e.target.removesuffix(":443") in url
        for e in events
    )


@BOTH_RUNTIMES
def test_direct_connections_bypassing_the_proxy_fail(net_sb: Sandbox) -> None:
    code = (
        "import socket\ns=socket.socket(); s.settimeout(2)\n"
        "try:\n s.connect(('1.1.1.1', 443)); print('CONNECTED')\n"
        "except OSError as e:\n print('BLOCKED')"
    )
    assert net_sb.run(["python3", "-c", code]).stdout.strip() == "BLOCKED"


@BOTH_RUNTIMES
def test_no_dns_resolver_answers_for_external_names(net_sb: Sandbox) -> None:
    code = (
        "import socket\ntry:\n socket.getaddrinfo('pypi.org', 443); print('RESOLVED')\n"
        "except OSError:\n print('GAIERROR')"
    )
    assert net_sb.run(["python3", "-c", code]).stdout.strip() == "GAIERROR"
    direct = net_sb.run(["python3", "-c", DIRECT_DNS, _dns_query("pypi.org").hex()], timeout_s=20)
    assert direct.stdout.startswith("NOANSWER") or direct.stdout.strip() == "ANSWERS 0"


IPV6_CONNECT = (
    "import socket\ns = socket.socket(socket.AF_INET6); s.settimeout(3)\n"
    "try:\n    s.connect(('2606:4700:4700::1111', 53)); print('CONNECTED')\n"
    "except OSError as e:\n    print('ERRNO', e.errno)\n"
)


@BOTH_RUNTIMES
def test_ipv6_is_disabled(net_sb: Sandbox, runtime: str) -> None:
    if runtime == "runc":
        assert net_sb.run("cat /proc/sys/net/ipv6/conf/all/disable_ipv6").stdout.strip() == "1"
    # gVisor has no such sysctl (its network is `none`: loopback only); either way, an
    # IPv6 connection out fails at once
    assert net_sb.run(["python3", "-c", IPV6_CONNECT]).stdout.strip().startswith("ERRNO ")


REAL_POLICY = """\
version: 1
name: egress
default: ask
files:
  read: {allow: ["**"]}
network:
  allow: ["*.pythonhosted.org", "pypi.org"]
  deny: ["files.pythonhosted.org"]
"""


@pytest.fixture(scope="module")
def policy_sb(tmp_path_factory: pytest.TempPathFactory, image: str) -> Iterator[Sandbox]:
    from policies import PolicySet
    from sandbox.policy_bridge import spec_from_policy

    workspace = tmp_path_factory.mktemp("egress-policy")
    policy = PolicySet.from_texts([("org", "egress.yaml", REAL_POLICY)])
    with Sandbox(spec_from_policy(policy, workspace, image)) as box:
        yield box


def test_a_denied_host_inside_an_allowed_wildcard_is_refused_by_the_proxy(
    policy_sb: Sandbox,
) -> None:
    assert _fetch(policy_sb, "https://files.pythonhosted.org/").startswith("FAIL")
    refused = [e for e in policy_sb.egress_events() if e.host == "files.pythonhosted.org"]
    assert refused and refused[-1].decision == "deny" and refused[-1].reason == "not_allowlisted"


def test_a_pattern_without_a_port_allows_any_port_as_the_policy_does(policy_sb: Sandbox) -> None:
    assert _fetch(policy_sb, "https://pypi.org/simple/").startswith("OK")
    _fetch(policy_sb, "http://pypi.org:8080/")
    tried = [e for e in policy_sb.egress_events() if e.host == "pypi.org" and e.port == 8080]
    assert tried and tried[-1].reason != "not_allowlisted"


@BOTH_RUNTIMES
def test_the_host_and_its_services_are_unreachable_even_with_an_allowlist(net_sb: Sandbox) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("0.0.0.0", 0))
    listener.listen(4)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    probe = (
        "import socket, sys\n"
        "for host in sys.argv[2:]:\n"
        "    try:\n"
        "        socket.create_connection((host, int(sys.argv[1])), timeout=3)\n"
        "        print('REACHED', host)\n"
        "    except OSError as e:\n"
        "        print('BLOCKED', host, e.errno)\n"
    )
    try:
        out = net_sb.run(["python3", "-c", probe, str(port), "172.17.0.1", "192.0.2.1", "10.0.0.1"])
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()
    assert "REACHED" not in out.stdout and out.stdout.count("BLOCKED") == 3
    routes = net_sb.run(["cat", "/proc/net/route"]).stdout.strip().splitlines()
    assert len(routes) == 1  # the header only: no route at all, loopback aside
