"""In-sandbox forwarder: 127.0.0.1:3128 -> the egress proxy's unix socket.

The sandbox has no network at all (`--network none`, loopback only); its one way out is
this forwarder, whose other end is the proxy container's socket, mounted read-only. So
nothing in the sandbox can reach the host, the model server or any address directly.
stdlib only; runs as the sandbox's main process.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import time
from collections.abc import Sequence

CHUNK = 65536
# The first bytes of a lease connection (see egress_proxy.py): the proxy lives while one is
# open, so when this container dies (its owner is gone), the proxy ends too.
LEASE_HEAD = b"REMPART-LEASE\r\n\r\n"
# A readiness probe (see egress_proxy.py): the proxy answers `REMPART-READY leases=N` and
# closes; it goes nowhere else and is not a connection attempt.
PROBE_HEAD = b"REMPART-PROBE\r\n\r\n"
READY_PREFIX = b"REMPART-READY leases="
LEASE_RETRY_S = 30.0
PROBE_PAUSE_S = 0.01


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass  # one side went away: the other is closed below
    finally:
        writer.close()


async def handle(sock: str, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
    try:
        proxy_r, proxy_w = await asyncio.open_unix_connection(sock)
    except OSError:
        client_w.close()
        return
    await asyncio.gather(pipe(client_r, proxy_w), pipe(proxy_r, client_w))


async def hold_lease(sock: str) -> None:
    """Keep one lease connection to the proxy open for as long as this process lives (the
    proxy's socket may appear a moment later: retried for a while)."""
    deadline = time.monotonic() + LEASE_RETRY_S
    while True:
        try:
            reader, writer = await asyncio.open_unix_connection(sock)
            break
        except OSError:
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(PROBE_PAUSE_S)
    try:
        writer.write(LEASE_HEAD)
        await writer.drain()
        await reader.read()  # returns when the proxy goes away
    except OSError:
        return


async def serve(listen: str, sock: str, lease: bool = False) -> None:
    host, _, port = listen.rpartition(":")
    server = await asyncio.start_server(lambda r, w: handle(sock, r, w), host, int(port))
    held = asyncio.ensure_future(hold_lease(sock)) if lease else None
    async with server:
        await server.serve_forever()
    if held is not None:
        held.cancel()


def probe_once(listen: str, timeout_s: float) -> str:
    """One probe through the forwarder at `listen`: "" when the proxy answered with a held
    lease, else what went wrong."""
    host, _, port = listen.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s) as conn:
            conn.sendall(PROBE_HEAD)
            reply = b""
            while b"\r\n" not in reply and len(reply) < 256:
                data = conn.recv(256)
                if not data:
                    break
                reply += data
    except OSError as exc:
        return f"{listen}: {type(exc).__name__}: {exc}"
    line = reply.split(b"\r\n", 1)[0]
    if not line.startswith(READY_PREFIX):
        return f"{listen}: the proxy did not answer the probe ({line[:80]!r})"
    if line[len(READY_PREFIX) :] in (b"", b"0"):
        return "the forwarder holds no lease on the proxy yet"
    return ""


def wait_ready(listen: str, timeout_s: float) -> dict[str, object]:
    """Probe until the whole path (forwarder listening, proxy answering through its socket,
    lease held) works, or `timeout_s` passes."""
    started = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        left = timeout_s - (time.monotonic() - started)
        problem = probe_once(listen, max(0.1, min(left, 5.0)))
        waited_ms = round((time.monotonic() - started) * 1000.0, 1)
        if not problem or time.monotonic() - started >= timeout_s:
            return {
                "ready": not problem,
                "attempts": attempts,
                "waited_ms": waited_ms,
                "problem": problem,
            }
        time.sleep(PROBE_PAUSE_S)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:3128")
    parser.add_argument("--socket", required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.listen, args.socket))
    return 0


if __name__ == "__main__":
    sys.exit(main())
