"""In-sandbox forwarder: 127.0.0.1:3128 -> the egress proxy's unix socket.

The sandbox has no network at all (`--network none`, loopback only); its one way out is
this forwarder, whose other end is the proxy container's socket, mounted read-only. So
nothing in the sandbox can reach the host, the model server or any address directly.
stdlib only; runs as the sandbox's main process.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

CHUNK = 65536
# The first bytes of a lease connection (see egress_proxy.py): the proxy lives while one is
# open, so when this container dies (its owner is gone), the proxy ends too.
LEASE_HEAD = b"REMPART-LEASE\r\n\r\n"


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
    """Keep one lease connection to the proxy open for as long as this process lives."""
    try:
        reader, writer = await asyncio.open_unix_connection(sock)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:3128")
    parser.add_argument("--socket", required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.listen, args.socket))
    return 0


if __name__ == "__main__":
    sys.exit(main())
