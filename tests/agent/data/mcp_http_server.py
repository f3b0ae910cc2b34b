"""A streamable HTTP MCP server (the MCP SDK's MCPServer) for the bridge test: it runs in
the server's sandbox, on 127.0.0.1:PORT, started with the image's /opt/mcp/bin/python."""

import sys

from mcp.server.mcpserver import MCPServer

app = MCPServer("http-demo")


@app.tool()
def shout(text: str) -> str:
    """Upper-case the text."""
    return text.upper()


app.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
