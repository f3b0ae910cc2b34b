"""Rempart egress proxy: HTTP CONNECT + plain HTTP, allowing exactly a host:port list.

Runs in its own container (same image), attached to the session's internal network and to
a normal bridge. Names are resolved here; IP literals are refused; every resolved address
must be public (else the request is refused) and the connection goes to an address that
was checked, so a second DNS answer cannot rebind it. One JSON line per attempt on stdout.
Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import re
import socket
import sys
import time
from collections.abc import Sequence

HEAD_LIMIT = 16384
HEAD_TIMEOUT_S = 15.0
CONNECT_TIMEOUT_S = 10.0
RESOLVE_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 300.0
IpNet = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddr = ipaddress.IPv4Address | ipaddress.IPv6Address
HOST_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*$")


class Refused(Exception):
    """An attempt the proxy refuses, with the reason it logs and returns."""


def log(**fields: object) -> None:
    sys.stdout.write(json.dumps({"ts": round(time.time(), 3), **fields}) + "\n")
    sys.stdout.flush()


def _parse(items: Sequence[str]) -> list[tuple[str, str]]:
    patterns: list[tuple[str, str]] = []
    for item in items:
        host, _, port = item.strip().lower().rpartition(":")
        if not host or not (port.isdigit() or port == "*"):
            host, port = item.strip().lower(), ""
        patterns.append((host.rstrip("."), port))
    return patterns


def _matches(patterns: list[tuple[str, str]], host: str, port: int) -> bool:
    """Same semantics as the policy: no port = any port, `*.x` = subdomains of x only."""
    host = host.lower().rstrip(".")
    for pattern, pport in patterns:
        if pport not in ("", "*") and int(pport) != port:
            continue
        if pattern == "*":
            return True
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and host != pattern[2:]:
                return True
        elif host == pattern:
            return True
    return False


class Rules:
    def __init__(
        self, allow: Sequence[str], allow_cidrs: Sequence[str], deny: Sequence[str] = ()
    ) -> None:
        self.patterns = _parse(allow)
        self.denied = _parse(deny)
        self.allow_cidrs: list[IpNet] = [ipaddress.ip_network(c) for c in allow_cidrs]

    def host_allowed(self, host: str, port: int) -> bool:
        """Allowed by a pattern and denied by none (the policy's deny and ask entries)."""
        return _matches(self.patterns, host, port) and not _matches(self.denied, host, port)

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


async def check(rules: Rules, host: str, port: int) -> IpAddr:
    """Return the address to connect to, or raise Refused."""
    host = host.lower().rstrip(".")
    if is_ip_literal(host):
        raise Refused("ip_literal")
    if not HOST_RE.match(host) or not 0 < port < 65536:
        raise Refused("bad_host")
    if not rules.host_allowed(host, port):
        raise Refused("not_allowlisted")
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
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


def parse_target(method: str, target: str) -> tuple[str, int, str]:
    """(host, port, origin-form path) of a CONNECT authority or an absolute http:// URL."""
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        if not port.isdigit():
            raise Refused("bad_request")
        return host, int(port), ""
    if not target.lower().startswith("http://"):
        raise Refused("bad_request")
    rest = target[7:]
    authority, slash, path = rest.partition("/")
    host, _, port = authority.rpartition(":") if ":" in authority else (authority, "", "80")
    if "@" in host or not port.isdigit():
        raise Refused("bad_request")
    return host, int(port), "/" + path if slash else "/"


async def handle(
    rules: Rules, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
) -> None:
    peer = client_w.get_extra_info("peername")
    entry: dict[str, object] = {"client": str(peer[0]) if peer else "?"}
    try:
        head = await asyncio.wait_for(client_r.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        entry.update(method=method, target=target[:300])
        host, port, path = parse_target(method.upper(), target)
        entry.update(host=host.lower(), port=port)
        addr = await check(rules, host, port)
        entry["addr"] = str(addr)
        up_r, up_w = await asyncio.wait_for(
            asyncio.open_connection(str(addr), port), CONNECT_TIMEOUT_S
        )
    except Refused as exc:
        entry.update(decision="deny", reason=str(exc))
        log(**entry)
        client_w.write(f"HTTP/1.1 403 Forbidden\r\nX-Rempart-Egress: {exc}\r\n".encode())
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
        client_w.write(
            b"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        )
        client_w.close()
        return
    entry["decision"] = "allow"
    log(**entry)
    if method.upper() == "CONNECT":
        client_w.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await client_w.drain()
    else:
        kept = [h for h in lines[1:] if h and not h.lower().startswith(("proxy-", "connection:"))]
        request = [f"{method} {path} {version}", *kept, "Connection: close", "", ""]
        up_w.write("\r\n".join(request).encode("latin-1"))
    await asyncio.gather(pipe(client_r, up_w), pipe(up_r, client_w))


async def serve(listen: str, rules: Rules) -> None:
    """Listen on `host:port`, or on a unix socket given as `unix:/path` (mode 0666)."""
    if listen.startswith("unix:"):
        path = listen[len("unix:") :]
        server = await asyncio.start_unix_server(
            lambda r, w: handle(rules, r, w), path, limit=HEAD_LIMIT
        )
        os.chmod(path, 0o666)  # the sandbox's user may be any uid
    else:
        host, _, port = listen.rpartition(":")
        server = await asyncio.start_server(
            lambda r, w: handle(rules, r, w), host or "0.0.0.0", int(port), limit=HEAD_LIMIT
        )
    log(event="listening", listen=listen, allow=[f"{h}:{p}" for h, p in rules.patterns])
    async with server:
        await server.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default="0.0.0.0:3128")
    parser.add_argument("--allow", action="append", default=[], help="host[:port] pattern")
    parser.add_argument("--allow-cidr", action="append", default=[], help="exempt range")
    parser.add_argument("--deny", action="append", default=[], help="host[:port] never allowed")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.listen, Rules(args.allow, args.allow_cidr, args.deny)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
