"""Rempart egress proxy: HTTP CONNECT + plain HTTP, allowing what the policy allows.

Runs in its own container (same image), attached to the session's socket volume and to a
normal bridge. The decision for a (host, port) is `policies.netrules` evaluating the
session policy's network table (the same module and table `rempart policy eval` uses;
both files are copied into the image): only `allow` passes, `ask` is refused (nobody is
there to ask). Then further walls: IP literals are refused; names are resolved here and
every resolved address must be public (else refused), and the connection goes to an
address that was checked, so a second DNS answer cannot rebind it. Inside a CONNECT
tunnel a TLS ClientHello's server name (SNI), and a plain HTTP request's `Host:`, must
name the CONNECT target. One JSON line per attempt on stdout (`conn` numbers it), and one
`closed` line with the bytes each way when an allowed connection ends. Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import itertools
import json
import os
import re
import socket
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from policies.netrules import RULES_ENV, NetRules, decode_table, same_host, split_authority

if TYPE_CHECKING:  # on the host (mypy); in the container both files sit in /opt/rempart
    from sandbox.image import tlshello
else:
    import tlshello

HEAD_LIMIT = 16384
HEAD_TIMEOUT_S = 15.0
HELLO_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 10.0
RESOLVE_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 300.0
IpNet = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddr = ipaddress.IPv4Address | ipaddress.IPv6Address
REQUEST_LINE = re.compile(rb"[A-Za-z]+ [^ \r\n]+ HTTP/1\.[01]\r\n")
# RFC 6761: `.invalid` never resolves, `localhost` names are loopback: answered here
NEVER_RESOLVES = (".invalid",)


LEASE_HEAD = b"REMPART-LEASE\r\n\r\n"  # forwarder.py holds one while its sandbox lives
PROBE_HEAD = b"REMPART-PROBE\r\n\r\n"  # the sandbox's readiness probe (forwarder.py)
LEASE_STARTUP_S = 120.0
CONNECTIONS = itertools.count(1)


class Leases:
    """Lease connections from the sandbox: the proxy ends when the last one closes (the
    sandbox container, hence its owner, is gone), or when none came within the startup
    time, or at the end of its lifetime."""

    def __init__(self) -> None:
        self.open = 0
        self.seen = False
        self.released = asyncio.Event()

    async def hold(self, reader: asyncio.StreamReader) -> None:
        self.open += 1
        self.seen = True
        try:
            while await reader.read(4096):
                continue  # a lease carries nothing: whatever comes is dropped
        except OSError:
            pass
        finally:
            self.open -= 1
            if self.open == 0:
                self.released.set()

    async def ended(self, lifetime_s: float, startup_s: float) -> str:
        """Wait until the proxy should end; returns why."""
        try:
            await asyncio.wait_for(self.released.wait(), min(startup_s, lifetime_s))
            return "the sandbox's lease closed"
        except TimeoutError:
            if not self.seen:
                return f"no sandbox attached within {startup_s:g} s"
        try:
            await asyncio.wait_for(self.released.wait(), max(0.0, lifetime_s - startup_s))
            return "the sandbox's lease closed"
        except TimeoutError:
            return f"lifetime of {lifetime_s:g} s reached"


class Refused(Exception):
    """An attempt the proxy refuses, with the reason it logs and returns."""


def log(**fields: object) -> None:
    sys.stdout.write(json.dumps({"ts": round(time.time(), 3), **fields}) + "\n")
    sys.stdout.flush()


class Rules:
    """The policy's network rules plus the proxy's own address walls."""

    def __init__(self, net: NetRules, allow_cidrs: Sequence[str] = ()) -> None:
        self.net = net
        self.allow_cidrs: list[IpNet] = [ipaddress.ip_network(c) for c in allow_cidrs]

    def address_blocked(self, addr: IpAddr) -> bool:
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        if any(addr in net for net in self.allow_cidrs if net.version == addr.version):
            return False
        return (
            not addr.is_global
            or addr.is_multicast
            or addr.is_reserved
            or addr.is_loopback
            or addr.is_link_local
            or addr.is_unspecified
        )


def is_ip_literal(host: str) -> bool:
    text = host.strip("[]")
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        pass
    try:  # inet_aton accepts "1.1", "0x01010101", "16843009": all IP literals too
        socket.inet_aton(text)
        return True
    except OSError:
        return False


def judge(rules: Rules, host: str, port: int, entry: dict[str, object]) -> str:
    """The policy's verdict (logged into `entry`); returns the canonical name."""
    verdict = rules.net.judge(host, port)
    entry.update(policy=verdict.decision, rule=verdict.winner.id)
    if not verdict.winner.builtin:
        entry["layer"] = verdict.winner.layer_name
    if verdict.name is None:
        raise Refused("bad_host")
    entry["host"] = verdict.name
    if verdict.decision != "allow":
        raise Refused("not_allowlisted")
    return verdict.name


async def resolve(rules: Rules, name: str, port: int) -> IpAddr:
    """The address to connect to for a name the policy allows, or raise Refused."""
    if is_ip_literal(name):
        raise Refused("ip_literal")
    if name.endswith(NEVER_RESOLVES):
        raise Refused("resolve_failed: special-use name (RFC 6761)")
    if name == "localhost" or name.endswith(".localhost"):
        raise Refused("blocked_address: localhost name")
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(name, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
        )
    except (OSError, TimeoutError) as exc:
        raise Refused(f"resolve_failed: {exc}") from exc
    addrs = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addrs:
        raise Refused("resolve_failed")
    blocked = [str(a) for a in addrs if rules.address_blocked(a)]
    if blocked:
        raise Refused(f"blocked_address: {','.join(sorted(set(blocked)))}")
    v4 = [a for a in addrs if a.version == 4]
    return (v4 or addrs)[0]


def check_host_header(lines: list[str], name: str, port: int, default_port: int) -> str:
    """The request's one `Host:` must name `name:port` (canonically); returns its value."""
    values = [h.split(":", 1)[1].strip() for h in lines if h.lower().startswith("host:")]
    if len(values) != 1:
        raise Refused(f"host_mismatch: {len(values)} Host headers")
    try:
        host, hport = split_authority(values[0], default_port)
    except ValueError as exc:
        raise Refused(f"host_mismatch: {values[0][:100]!r}: {exc}") from exc
    if hport != port or not same_host(host, name):
        raise Refused(f"host_mismatch: {values[0][:100]}")
    return values[0][:300]


def head_lines(head: bytes) -> list[str]:
    """The request line (UTF-8: a name may be IDN, judged as the policy judges it) and the
    header lines (latin-1)."""
    first, _, rest = head.partition(b"\r\n")
    try:
        lines = [first.decode("utf-8"), *rest.decode("latin-1").split("\r\n")[:-2]]
    except UnicodeDecodeError as exc:
        raise Refused("bad_request: request line is not UTF-8") from exc
    if any(line[:1] in (" ", "\t") for line in lines[1:]):
        raise Refused("bad_request: folded header")
    if any(":" not in line for line in lines[1:]):
        raise Refused("bad_request: malformed header")
    return lines


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    total = 0
    try:
        while True:
            data = await asyncio.wait_for(reader.read(65536), IDLE_TIMEOUT_S)
            if not data:
                break
            total += len(data)
            writer.write(data)
            await writer.drain()
    except (OSError, TimeoutError):
        pass  # either side went away or idled out: the tunnel ends
    finally:
        writer.close()
    return total


async def copy_exactly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> int:
    """Forward a request body of `n` bytes, and nothing after it (no second request);
    returns how many were forwarded."""
    wanted = n
    try:
        while n > 0:
            data = await asyncio.wait_for(reader.read(min(n, 65536)), IDLE_TIMEOUT_S)
            if not data:
                break
            n -= len(data)
            writer.write(data)
            await writer.drain()
    except (OSError, TimeoutError):
        writer.close()
    return wanted - n


def parse_target(method: str, target: str) -> tuple[str, int, str]:
    """(host, port, origin-form path) of a CONNECT authority or an absolute http:// URL."""
    try:
        if method == "CONNECT":
            host, port = split_authority(target, None)
            return host, port, ""
        if not target.lower().startswith("http://"):
            raise Refused("bad_request")
        authority, slash, path = target[7:].partition("/")
        authority, query, rest = authority.partition("?")
        if "@" in authority or "#" in authority:
            raise Refused("bad_request")
        host, port = split_authority(authority, 80)
    except ValueError as exc:
        raise Refused(f"bad_request: {exc}") from exc
    path = "/" + path if slash else "/" + (query + rest if query else "")
    return host, port, path


async def inspect_tunnel(
    client_r: asyncio.StreamReader, name: str, port: int, entry: dict[str, object]
) -> bytes:
    """The first bytes the client sends into a tunnel, checked: a TLS ClientHello must ask
    for the CONNECT target (SNI), an HTTP request must carry it as `Host:`."""
    first = await asyncio.wait_for(client_r.read(65536), IDLE_TIMEOUT_S)
    if tlshello.looks_like_tls(first):
        entry["tls"] = True
        try:
            seen, body = await asyncio.wait_for(
                tlshello.read_client_hello(first, client_r), HELLO_TIMEOUT_S
            )
            sni = tlshello.server_name(body)
        except TimeoutError as exc:
            raise Refused("bad_tls: no complete ClientHello in time") from exc
        except tlshello.TlsError as exc:
            raise Refused(f"bad_tls: {exc}") from exc
        entry["sni"] = sni[:300] if sni is not None else None
        if sni is not None and not same_host(sni, name):
            raise Refused("sni_mismatch")
        return seen
    if REQUEST_LINE.match(first):
        buf = bytearray(first)
        while b"\r\n\r\n" not in buf:
            if len(buf) > HEAD_LIMIT:
                raise Refused("bad_request: request head too large")
            more = await asyncio.wait_for(client_r.read(65536), HEAD_TIMEOUT_S)
            if not more:
                break
            buf.extend(more)
        head = bytes(buf).split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        entry["host_header"] = check_host_header(head_lines(head)[1:], name, port, 80)
        return bytes(buf)
    entry["tls"] = False
    return first


def _abort(up_w: asyncio.StreamWriter | None, down: asyncio.Future[int] | None) -> None:
    if down is not None:
        down.cancel()
    if up_w is not None:
        up_w.close()


async def handle(
    rules: Rules,
    client_r: asyncio.StreamReader,
    client_w: asyncio.StreamWriter,
    leases: Leases | None = None,
) -> None:
    peer = client_w.get_extra_info("peername")
    entry: dict[str, object] = {"client": str(peer[0]) if peer else "?"}
    tunnel = established = False
    sent = 0  # bytes of the client's written upstream by this function
    up_w: asyncio.StreamWriter | None = None
    down: asyncio.Future[int] | None = None
    try:
        head = await asyncio.wait_for(client_r.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
        if head == LEASE_HEAD and leases is not None:
            await leases.hold(client_r)
            client_w.close()
            return
        if head == PROBE_HEAD:  # answered here, goes nowhere: not a connection attempt
            held = leases.open if leases is not None else 1
            client_w.write(f"REMPART-READY leases={held}\r\n".encode())
            await client_w.drain()
            client_w.close()
            return
        entry["conn"] = next(CONNECTIONS)
        lines = head_lines(head)
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise Refused("bad_request")
        method, target, version = parts
        entry.update(method=method, target=target[:300])
        host, port, path = parse_target(method.upper(), target)
        entry.update(host=host.lower()[:300], port=port)
        name = judge(rules, host, port, entry)
        tunnel = method.upper() == "CONNECT"
        kept = [h for h in lines[1:] if not h.lower().startswith(("proxy-", "connection:"))]
        length = 0
        if not tunnel:
            entry["host_header"] = check_host_header(kept, name, port, 80)
            if any(h.lower().startswith("transfer-encoding:") for h in kept):
                raise Refused("bad_request: chunked request bodies are not supported")
            sizes = [
                h.split(":", 1)[1].strip() for h in kept if h.lower().startswith("content-length:")
            ]
            if len(sizes) > 1 or (sizes and not sizes[0].isdigit()):
                raise Refused("bad_request: bad Content-Length")
            length = int(sizes[0]) if sizes else 0
        addr = await resolve(rules, name, port)
        entry["addr"] = str(addr)
        up_r, writer = await asyncio.wait_for(
            asyncio.open_connection(str(addr), port), CONNECT_TIMEOUT_S
        )
        up_w = writer
        if tunnel:
            client_w.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await client_w.drain()
            established = True
            # the server may speak first (SMTP, SSH): its bytes flow while we wait for the
            # client's; the client's are held back until they are checked
            down = asyncio.ensure_future(pipe(up_r, client_w))
            first = await inspect_tunnel(client_r, name, port, entry)
            writer.write(first)
            sent = len(first)
        else:
            request = ["", *kept, "Connection: close", "", ""]
            line = f"{method} {path} {version}".encode()
            data = line + "\r\n".join(request).encode("latin-1")
            writer.write(data)
            sent = len(data)
    except Refused as exc:
        entry.update(decision="deny", reason=str(exc).replace("\r", " ").replace("\n", " "))
        log(**entry)
        _abort(up_w, down)
        if not established:
            reason = str(entry["reason"])[:200]
            client_w.write(f"HTTP/1.1 403 Forbidden\r\nX-Rempart-Egress: {reason}\r\n".encode())
            client_w.write(b"Connection: close\r\nContent-Length: 0\r\n\r\n")
            await client_w.drain()
        client_w.close()
        return
    except (
        OSError,
        TimeoutError,
        ValueError,
        asyncio.IncompleteReadError,
        asyncio.LimitOverrunError,
    ) as exc:
        entry.update(decision="error", reason=f"{type(exc).__name__}: {exc}")
        log(**entry)
        _abort(up_w, down)
        if not established:
            client_w.write(
                b"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            )
        client_w.close()
        return
    entry["decision"] = "allow"
    log(**entry)
    assert up_w is not None
    if down is not None:
        more, received = await asyncio.gather(pipe(client_r, up_w), down)
    else:
        more, received = await asyncio.gather(
            copy_exactly(client_r, up_w, length), pipe(up_r, client_w)
        )
    closed = {k: entry[k] for k in ("conn", "host", "port", "addr") if k in entry}
    log(decision="closed", **closed, bytes_up=sent + more, bytes_down=received)


async def serve(listen: str, rules: Rules, lifetime_s: float | None = None) -> None:
    """Listen on `host:port`, or on a unix socket given as `unix:/path` (mode 0666). With
    `lifetime_s`, the proxy ends with its sandbox's lease (or at the end of its lifetime)."""
    leases = Leases() if lifetime_s is not None else None
    if listen.startswith("unix:"):
        path = listen[len("unix:") :]
        server = await asyncio.start_unix_server(
            lambda r, w: handle(rules, r, w, leases), path, limit=HEAD_LIMIT
        )
        os.chmod(path, 0o666)  # the sandbox's user may be any uid
    else:
        host, _, port = listen.rpartition(":")
        server = await asyncio.start_server(
            lambda r, w: handle(rules, r, w, leases),
            host or "0.0.0.0",
            int(port),
            limit=HEAD_LIMIT,
        )
    rule_count = sum(len(r) for lay in rules.net.layers for r in lay.rules.values())
    log(event="listening", listen=listen, layers=len(rules.net.layers), rules=rule_count)
    if leases is None or lifetime_s is None:
        async with server:
            await server.serve_forever()
        return
    why = await leases.ended(lifetime_s, LEASE_STARTUP_S)
    log(event="stopping", reason=why)
    server.close()  # open tunnels are cancelled when asyncio.run returns


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default="0.0.0.0:3128")
    parser.add_argument("--allow-cidr", action="append", default=[], help="exempt range")
    parser.add_argument("--rules-env", default=RULES_ENV, help="env var with the table")
    parser.add_argument(
        "--lifetime", type=float, default=None, help="end with the sandbox's lease, or then"
    )
    args = parser.parse_args(argv)
    net = NetRules(decode_table(os.environ.get(args.rules_env, "")))
    asyncio.run(serve(args.listen, Rules(net, args.allow_cidr), args.lifetime))
    return 0


if __name__ == "__main__":
    sys.exit(main())
