"""A small stdio MCP server (stdlib only) for tests: it runs inside the sandbox.

Tools: echo(text), whoami(), read(path). Speaks JSON-RPC 2.0 lines as MCP's stdio
transport does; the client side in the tests is the real MCP SDK.
"""

import json
import os
import socket
import sys

TOOLS = [
    {
        "name": "echo",
        "description": "Echo text back.",
        "inputSchema": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
    },
    {"name": "whoami", "description": "Host name and uid.", "inputSchema": {"type": "object"}},
    {
        "name": "read",
        "description": "Read a file.",
        "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}},
    },
]


def reply(mid: object, result: object = None, error: object = None) -> None:
    message = {"jsonrpc": "2.0", "id": mid}
    message.update({"error": error} if error is not None else {"result": result})
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def text(value: str) -> dict[str, object]:
    return {"content": [{"type": "text", "text": value}], "isError": False}


def call(name: str, args: dict[str, str]) -> dict[str, object]:
    if name == "echo":
        return text(args.get("text", ""))
    if name == "whoami":
        return text(f"{socket.gethostname()} uid={os.getuid()}")
    try:
        with open(args.get("path", ""), encoding="utf-8", errors="replace") as handle:
            return text(handle.read())
    except OSError as exc:
        return {"content": [{"type": "text", "text": str(exc)}], "isError": True}


for line in sys.stdin:
    request = json.loads(line)
    mid, method, params = request.get("id"), request.get("method"), request.get("params") or {}
    if mid is None:
        continue
    if method == "initialize":
        info = {"name": "test-server", "version": "1.0"}
        reply(
            mid,
            {
                "protocolVersion": params.get("protocolVersion"),
                "capabilities": {"tools": {}},
                "serverInfo": info,
            },
        )
    elif method == "tools/list":
        reply(mid, {"tools": TOOLS})
    elif method == "tools/call":
        reply(mid, call(params.get("name", ""), params.get("arguments") or {}))
    elif method == "ping":
        reply(mid, {})
    else:
        reply(mid, error={"code": -32601, "message": f"no method {method}"})
