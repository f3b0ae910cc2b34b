"""Reading a TLS ClientHello off a CONNECT tunnel, to see the server name (SNI) it asks for.

The proxy only peeks: the bytes are forwarded unchanged once the name is checked. Records
and handshake fragments are reassembled (a ClientHello may span several records, and a
record several reads), bounded in size; the caller bounds the time. Standard library only.
"""

from __future__ import annotations

import asyncio

HANDSHAKE = 0x16
CLIENT_HELLO = 1
RECORD_MAX = 16384 + 2048  # TLSCiphertext limit; plaintext records are smaller still
HELLO_LIMIT = 65536
EXT_SERVER_NAME = 0


class TlsError(Exception):
    """Not a well-formed ClientHello (the proxy refuses the tunnel: `bad_tls`)."""


def looks_like_tls(first: bytes) -> bool:
    return len(first) > 0 and first[0] == HANDSHAKE


async def read_client_hello(first: bytes, reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """(every byte read, the ClientHello body) starting from `first` (>= 1 byte, 0x16)."""
    buf = bytearray(first)
    hello = bytearray()
    pos = 0

    async def need(n: int) -> None:
        while len(buf) < n:
            if n > HELLO_LIMIT + 5 * 8:
                raise TlsError("ClientHello larger than the limit")
            chunk = await reader.read(65536)
            if not chunk:
                raise TlsError("connection closed inside the ClientHello")
            buf.extend(chunk)

    while True:
        await need(pos + 5)
        if buf[pos] != HANDSHAKE:
            raise TlsError("a non-handshake record before the ClientHello ended")
        length = int.from_bytes(buf[pos + 3 : pos + 5], "big")
        if length == 0 or length > RECORD_MAX:
            raise TlsError(f"bad record length {length}")
        await need(pos + 5 + length)
        hello.extend(buf[pos + 5 : pos + 5 + length])
        pos += 5 + length
        if len(hello) >= 4:
            if hello[0] != CLIENT_HELLO:
                raise TlsError("the first handshake message is not a ClientHello")
            size = int.from_bytes(hello[1:4], "big")
            if size > HELLO_LIMIT:
                raise TlsError("ClientHello larger than the limit")
            if len(hello) >= 4 + size:
                return bytes(buf), bytes(hello[4 : 4 + size])


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise TlsError("truncated ClientHello")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def num(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def vec(self, len_bytes: int) -> bytes:
        return self.take(self.num(len_bytes))

    @property
    def done(self) -> bool:
        return self.pos == len(self.data)


def server_name(body: bytes) -> str | None:
    """The host_name of the server_name extension, None when the hello has none."""
    c = _Cursor(body)
    c.take(2 + 32)  # legacy_version, random
    c.vec(1)  # session id
    c.vec(2)  # cipher suites
    c.vec(1)  # compression methods
    if c.done:
        return None
    exts = _Cursor(c.vec(2))
    if not c.done:
        raise TlsError("bytes after the extensions")
    seen: set[int] = set()
    names: list[bytes] = []
    while not exts.done:
        kind, data = exts.num(2), exts.vec(2)
        if kind in seen:
            raise TlsError(f"extension {kind} appears twice")
        seen.add(kind)
        if kind != EXT_SERVER_NAME:
            continue
        entries = _Cursor(data)
        listed = _Cursor(entries.vec(2))
        if not entries.done:
            raise TlsError("bytes after the server name list")
        while not listed.done:
            name_type, name = listed.num(1), listed.vec(2)
            if name_type == 0:
                names.append(name)
    if len(names) > 1:
        raise TlsError("more than one host_name in server_name")
    if not names:
        return None
    try:
        return names[0].decode("ascii")
    except UnicodeDecodeError as exc:
        raise TlsError("server name is not ASCII") from exc
