"""A streamable HTTP MCP server, offered over stdio: runs in the server's own sandbox.

    /opt/mcp/bin/python /opt/rempart/mcp_bridge.py URL

Rempart reaches every MCP server over `docker exec -i`; for a `url` server this bridge is
that process. Its HTTP requests leave through the container's egress proxy (HTTPS_PROXY),
so only the hosts in the policy's `mcp.servers.NAME.network` answer, and each attempt is
logged. It forwards tools/list and tools/call, nothing else.
"""

import sys
from typing import Any

import anyio
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server


async def bridge(url: str) -> None:
    async with streamable_http_client(url) as streams:
        read, write = streams if isinstance(streams, tuple) else (streams.read, streams.write)
        async with ClientSession(read, write) as remote:
            await remote.initialize()

            async def list_tools(
                _ctx: Any, params: types.PaginatedRequestParams | None
            ) -> types.ListToolsResult:
                return await remote.list_tools(params=params)

            async def call_tool(
                _ctx: Any, params: types.CallToolRequestParams
            ) -> types.CallToolResult:
                return await remote.call_tool(params.name, params.arguments or {})

            server = Server("rempart-bridge", on_list_tools=list_tools, on_call_tool=call_tool)
            async with stdio_server() as (local_read, local_write):
                await server.run(local_read, local_write, server.create_initialization_options())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: mcp_bridge.py URL")
    try:
        anyio.run(bridge, sys.argv[1])
    except BaseException as exc:  # the reason goes to stderr (the client reports stdio EOF)
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]
        print(f"mcp_bridge: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
