"""The egress proxy allows exactly what `policy eval` allows, and checks SNI and Host.

Each test starts a real proxy container for a real policy (as a sandbox does) and talks
to its unix socket; `pypi.org` and `files.pythonhosted.org` resolve to this site's package
gateway (an RFC 5737 address the spec exempts), so both are reachable when allowed.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from policies import NetConnect, PolicySet
from tests.sandbox.proxy_harness import (
    ProxyUnderTest,
    client_hello,
    layered,
    refusal,
    split_records,
)

pytestmark = pytest.mark.docker

LOCKED_ORG = "version: 1\nlock: true\nnetwork: {allow: ['pypi.org:443']}\n"


def _needs_pypi() -> None:
    try:
        socket.getaddrinfo("pypi.org", 443)
    except OSError:
        pytest.skip("this host cannot resolve pypi.org")


def _decision(policy: PolicySet, host: str, port: int) -> str:
    return policy.evaluate(NetConnect(host=host, port=port)).decision


def _last(proxy: ProxyUnderTest, target: str) -> dict[str, object]:
    return proxy.wait_event(lambda e: e.target == target).model_dump()


@pytest.mark.parametrize("widening", ["pypi.org", "pypi.org:*", "*.org", "*", "*:22"])
def test_a_locked_layer_is_not_widened_through_the_proxy(image: str, widening: str) -> None:
    policy = layered(LOCKED_ORG, f"version: 1\nnetwork: {{allow: ['{widening}']}}\n")
    assert _decision(policy, "pypi.org", 22) == "deny"
    with ProxyUnderTest(policy, image) as proxy:
        assert refusal(proxy.connect("pypi.org:22")) == "not_allowlisted"
        assert refusal(proxy.connect("other.invalid:443")) == "not_allowlisted"
        assert proxy.connect("pypi.org:443", wait_s=0.2).startswith(b"HTTP/1.1 200")
        event = _last(proxy, "pypi.org:22")
        assert (event["policy"], event["rule"]) == ("deny", "builtin:network-unlisted")


def test_an_ask_rule_is_refused_by_the_proxy(image: str) -> None:
    policy = layered(
        "version: 1\nnetwork: {allow: ['*.invalid']}\n",
        "version: 1\nnetwork: {ask: ['ask.invalid:443']}\n",
    )
    assert _decision(policy, "ask.invalid", 443) == "ask"
    with ProxyUnderTest(policy, image) as proxy:
        assert refusal(proxy.connect("ask.invalid:443")) == "not_allowlisted"
        assert refusal(proxy.connect("ask.invalid:80")).startswith("resolve_failed")
        event = _last(proxy, "ask.invalid:443")
        assert (event["policy"], event["rule"], event["layer"]) == (
            "ask",
            "network.ask[0]",
            "project",
        )


@pytest.mark.parametrize("order", ["deny-first", "deny-later"])
def test_a_deny_in_any_layer_beats_an_allow_in_another(image: str, order: str) -> None:
    deny = "version: 1\nnetwork: {deny: ['no.invalid']}\n"
    allow = "version: 1\nnetwork: {allow: ['*']}\n"
    policy = layered(deny, allow) if order == "deny-first" else layered(allow, deny)
    with ProxyUnderTest(policy, image) as proxy:
        assert refusal(proxy.connect("no.invalid:443")) == "not_allowlisted"
        assert refusal(proxy.connect("NO.Invalid.:8443")) == "not_allowlisted"
        assert refusal(proxy.connect("yes.invalid:443")).startswith("resolve_failed")


IDN = "version: 1\nnetwork: {allow: ['*.example.invalid'], deny: ['bücher.example.invalid']}\n"


@pytest.mark.parametrize(
    "target",
    [
        "xn--bcher-kva.example.invalid:443",
        "XN--BCHER-KVA.example.invalid.:443",
        "bücher.example.invalid:443",
        "BÜCHER.EXAMPLE.INVALID:443",
    ],
)
def test_an_international_deny_matches_every_spelling_of_the_name(image: str, target: str) -> None:
    policy = layered(IDN)
    host, _, port = target.rpartition(":")
    assert _decision(policy, host, int(port)) == "deny"
    with ProxyUnderTest(policy, image) as proxy:
        assert refusal(proxy.connect(target)) == "not_allowlisted"
        assert refusal(proxy.connect("buecher.example.invalid:443")).startswith("resolve_failed")
        assert _last(proxy, target)["rule"] == "network.deny[0]"


@pytest.mark.parametrize(
    ("rule", "target", "reason"),
    [
        ("'[::1]:443'", "[::1]:443", "ip_literal"),
        ("'[::1]:443'", "[0:0::1]:443", "ip_literal"),
        ("'[::1]:443'", "[::1]:80", "not_allowlisted"),
        ("'10.0.0.1:80'", "0x0a000001:80", "ip_literal"),
        ("'10.0.0.1:80'", "167772161:80", "ip_literal"),
        ("'*'", "10.0.0.1:80", "not_allowlisted"),  # wildcards never reach addresses
        ("'*'", "localhost:80", "not_allowlisted"),  # ... nor local names
        ("'localhost:80'", "LOCALHOST.:80", "blocked_address"),
    ],
)
def test_addresses_and_local_names_follow_the_policy_then_the_address_walls(
    image: str, rule: str, target: str, reason: str
) -> None:
    policy = layered(f"version: 1\nnetwork: {{allow: [{rule}]}}\n")
    with ProxyUnderTest(policy, image) as proxy:
        assert refusal(proxy.connect(target)).startswith(reason)


@pytest.fixture(scope="module")
def pypi_only(image: str) -> Iterator[ProxyUnderTest]:
    _needs_pypi()
    policy = layered("version: 1\nnetwork: {allow: ['pypi.org:443', 'pypi.org:80']}\n")
    with ProxyUnderTest(policy, image) as proxy:
        yield proxy


def _sni_event(proxy: ProxyUnderTest, sni: str) -> dict[str, object]:
    return proxy.wait_event(lambda e: e.sni == sni).model_dump()


@pytest.mark.parametrize("record_size", [0, 1, 7, 100])
def test_a_tls_session_naming_another_host_is_refused(
    pypi_only: ProxyUnderTest, record_size: int
) -> None:
    hello = client_hello("files.pythonhosted.org")
    if record_size:
        hello = split_records(hello, record_size)
    answer = pypi_only.connect("pypi.org:443", then=[hello])
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.split(b"\r\n\r\n", 1)[1] == b""  # closed, nothing from the server
    event = _sni_event(pypi_only, "files.pythonhosted.org")
    assert (event["decision"], event["reason"], event["host"]) == (
        "deny",
        "sni_mismatch",
        "pypi.org",
    )


def test_a_client_hello_trickling_in_byte_by_byte_is_still_read(pypi_only: ProxyUnderTest) -> None:
    hello = client_hello("files.pythonhosted.org")
    answer = pypi_only.connect("pypi.org:443", then=[hello[i : i + 1] for i in range(len(hello))])
    assert answer.split(b"\r\n\r\n", 1)[1] == b""


@pytest.mark.parametrize("sni", ["pypi.org", "PyPI.org"])
def test_a_tls_session_naming_the_target_goes_through_and_is_logged(
    pypi_only: ProxyUnderTest, sni: str
) -> None:
    answer = pypi_only.connect("pypi.org:443", then=[client_hello(sni)])
    assert answer.split(b"\r\n\r\n", 1)[1][:1] == b"\x16"  # the server's handshake
    event = _sni_event(pypi_only, sni)
    assert (event["decision"], event["tls"], event["rule"]) == ("allow", True, "network.allow[0]")


def test_a_malformed_client_hello_is_refused(pypi_only: ProxyUnderTest) -> None:
    hello = client_hello("pypi.org")
    broken = hello[:5] + b"\x01\x00\x00\x05" + b"\x03\x03" + hello[11:20]
    answer = pypi_only.connect("pypi.org:443", then=[broken])
    assert answer.split(b"\r\n\r\n", 1)[1] == b""
    pypi_only.wait_event(lambda e: e.reason.startswith("bad_tls"))


def _get(host_header: str, target: str = "http://pypi.org/simple/") -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: t\r\n\r\n".encode()


@pytest.mark.parametrize(
    "host_header", ["files.pythonhosted.org", "pypi.org:8080", "pypi.org.evil.invalid", ""]
)
def test_a_plain_http_host_header_naming_another_host_is_refused(
    pypi_only: ProxyUnderTest, host_header: str
) -> None:
    assert refusal(pypi_only.exchange(_get(host_header))).startswith("host_mismatch")


def test_two_host_headers_are_refused(pypi_only: ProxyUnderTest) -> None:
    head = (
        b"GET http://pypi.org/ HTTP/1.1\r\nHost: pypi.org\r\nHost: files.pythonhosted.org\r\n\r\n"
    )
    assert refusal(pypi_only.exchange(head)).startswith("host_mismatch")


@pytest.mark.parametrize("host_header", ["pypi.org", "PYPI.ORG.", "pypi.org:80"])
def test_a_matching_host_header_is_forwarded(pypi_only: ProxyUnderTest, host_header: str) -> None:
    answer = pypi_only.exchange(_get(host_header))
    assert answer.startswith(b"HTTP/1.1 ") and refusal(answer) == ""


def test_http_inside_a_tunnel_must_name_the_target_too(pypi_only: ProxyUnderTest) -> None:
    inner = b"GET / HTTP/1.1\r\nHost: files.pythonhosted.org\r\n\r\n"
    answer = pypi_only.connect("pypi.org:80", then=[inner])
    assert answer.startswith(b"HTTP/1.1 200") and answer.split(b"\r\n\r\n", 1)[1] == b""
    pypi_only.wait_event(lambda e: e.target == "pypi.org:80" and "host_mismatch" in e.reason)


def test_a_tls_session_without_a_server_name_goes_through_and_is_logged(
    pypi_only: ProxyUnderTest,
) -> None:
    answer = pypi_only.connect("pypi.org:443", then=[client_hello(None)], wait_s=2)
    assert answer.startswith(b"HTTP/1.1 200")
    event = pypi_only.wait_event(lambda e: e.tls is True and e.sni is None)
    assert event.decision == "allow"


def test_a_request_without_a_host_header_is_refused(pypi_only: ProxyUnderTest) -> None:
    answer = pypi_only.exchange(b"GET http://pypi.org/ HTTP/1.0\r\nUser-Agent: t\r\n\r\n")
    assert refusal(answer) == "host_mismatch: 0 Host headers"


def test_a_chunked_request_body_is_refused(pypi_only: ProxyUnderTest) -> None:
    head = b"POST http://pypi.org/ HTTP/1.1\r\nHost: pypi.org\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert refusal(pypi_only.exchange(head)).startswith("bad_request")


def test_a_second_request_on_a_plain_http_connection_is_not_forwarded(
    pypi_only: ProxyUnderTest,
) -> None:
    second = b"GET /x HTTP/1.1\r\nHost: files.pythonhosted.org\r\n\r\n"
    answer = pypi_only.exchange(_get("pypi.org") + second)
    assert answer.count(b"HTTP/1.1 ") == 1
    # this GET's line (the chunked POST before it was refused with the same Host:)
    event = pypi_only.wait_event(lambda e: e.method == "GET" and e.host_header == "pypi.org")
    assert (event.decision, event.rule) == ("allow", "network.allow[1]")


@pytest.mark.parametrize(
    "head",
    [
        b"CONNECT b\xfccher.pypi.org:443 HTTP/1.1\r\n\r\n",  # latin-1, not UTF-8
        b"GET http://user@pypi.org/ HTTP/1.1\r\nHost: pypi.org\r\n\r\n",
        b"GET https://pypi.org/ HTTP/1.1\r\nHost: pypi.org\r\n\r\n",
        b"CONNECT [::1 HTTP/1.1\r\n\r\n",
    ],
)
def test_malformed_requests_are_refused(pypi_only: ProxyUnderTest, head: bytes) -> None:
    assert refusal(pypi_only.exchange(head)).startswith("bad_request")
