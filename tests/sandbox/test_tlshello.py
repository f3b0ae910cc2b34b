"""Reading the server name out of a real TLS ClientHello (the egress proxy's SNI check)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from sandbox.image import tlshello
from tests.sandbox.proxy_harness import client_hello, split_records


def _read(data: bytes, chunks: int = 1) -> str | None:
    async def run() -> str | None:
        reader = asyncio.StreamReader()
        step = max(1, len(data) // chunks)
        for i in range(step, len(data), step):
            reader.feed_data(data[i : i + step])
        reader.feed_eof()
        _seen, body = await tlshello.read_client_hello(data[:step], reader)
        return tlshello.server_name(body)

    return asyncio.run(run())


@pytest.mark.parametrize("size", [0, 1, 5, 300])
def test_the_server_name_is_found_in_any_record_split(size: int) -> None:
    hello = client_hello("files.pythonhosted.org")
    data = split_records(hello, size) if size else hello
    assert _read(data, chunks=7) == "files.pythonhosted.org"


def test_a_hello_without_a_server_name_has_none() -> None:
    assert _read(client_hello(None)) is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda h: h[: len(h) // 2],  # closed inside the hello
        lambda h: h[:5] + b"\x02" + h[6:],  # not a ClientHello
        lambda h: h[:3] + b"\x00\x00" + h[5:],  # empty record
        lambda h: h[:5] + h[5:6] + b"\x00\x00\x30" + h[9:60],  # truncated body
    ],
)
def test_a_broken_hello_is_an_error(damage: Callable[[bytes], bytes]) -> None:
    with pytest.raises(tlshello.TlsError):
        _read(damage(client_hello("pypi.org")))


def test_a_hello_claiming_more_than_the_limit_is_an_error() -> None:
    huge = b"\x16\x03\x01\x00\x04" + b"\x01" + (tlshello.HELLO_LIMIT + 1).to_bytes(3, "big")
    with pytest.raises(tlshello.TlsError):
        _read(huge)
