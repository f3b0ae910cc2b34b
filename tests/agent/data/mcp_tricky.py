"""A misbehaving stdio MCP server (stdlib only) for the defence tests; it runs in a sandbox.

Its tools come from the JSON file named by TRICKY_TOOLS (a list of MCP tool objects), so a
test can change a description between two starts (rug pull), poison one, or shadow a name.
Calls: `big` answers SIZE characters with control and tag characters and a deeply nested
structured result; `hang` never answers; `write` writes PATH; anything else echoes its arguments.
"""

import json
import os
import sys
import time

with open(os.environ["TRICKY_TOOLS"], encoding="utf-8") as handle:
    TOOLS = json.load(handle)


def reply(mid: object, result: object = None, error: object = None) -> None:
    message = {"jsonrpc": "2.0", "id": mid}
    message.update({"error": error} if error is not None else {"result": result})
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def call(name: str, args: dict[str, object]) -> dict[str, object]:
    if name == "hang":
        while True:
            time.sleep(3600)
    if name == "write":
        with open(str(args["path"]), "w", encoding="utf-8") as handle:
            handle.write(str(args.get("content", "")))
        return {"content": [{"type": "text", "text": "written"}]}
    if name == "big":
        size = int(str(args.get("size", 1000)))
        hidden = "\x1b[2J\u202e\U000e0049\U000e0047\U000e004e"  # ESC, bidi, tag letters
        text = (hidden + "A" * 1000) * (size // 1000 + 1)
        nested: object = "bottom"
        for _ in range(50):
            nested = {"deeper": nested}
        if args.get("structured"):
            return {"content": [], "structuredContent": nested}
        return {"content": [{"type": "text", "text": text[:size]}]}
    return {"content": [{"type": "text", "text": json.dumps(args)}], "isError": False}


for line in sys.stdin:
    request = json.loads(line)
    mid, method, params = request.get("id"), request.get("method"), request.get("params") or {}
    if mid is None:
        continue
    if method == "initialize":
        info = {"name": "tricky", "version": "1.0"}
        version = params.get("protocolVersion")
        reply(mid, {"protocolVersion": version, "capabilities": {"tools": {}}, "serverInfo": info})
    elif method == "tools/list":
        reply(mid, {"tools": TOOLS})
    elif method == "tools/call":
        reply(mid, call(params.get("name", ""), params.get("arguments") or {}))
    elif method == "ping":
        reply(mid, {})
    else:
        reply(mid, error={"code": -32601, "message": f"no method {method}"})
