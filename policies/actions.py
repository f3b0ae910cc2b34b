"""The actions the agent asks the policy about, as strict pydantic models."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from policies.errors import PolicyInputError

MAX_ACTION_BYTES = 4 * 1024 * 1024

_CFG = ConfigDict(extra="forbid", strict=True, frozen=True)


class FsRead(BaseModel):
    model_config = _CFG
    kind: Literal["fs.read"] = "fs.read"
    path: str


class FsWrite(BaseModel):
    model_config = _CFG
    kind: Literal["fs.write"] = "fs.write"
    path: str


class Exec(BaseModel):
    model_config = _CFG
    kind: Literal["exec"] = "exec"
    command: str
    cwd: str = "."


class NetConnect(BaseModel):
    model_config = _CFG
    kind: Literal["net.connect"] = "net.connect"
    host: str
    port: int = Field(ge=0, le=65535)


class McpStart(BaseModel):
    model_config = _CFG
    kind: Literal["mcp.start"] = "mcp.start"
    server: str


class McpCall(BaseModel):
    model_config = _CFG
    kind: Literal["mcp.call"] = "mcp.call"
    server: str
    tool: str
    arguments: dict[str, Any] = {}
    annotations: dict[str, Any] | None = None  # MCP ToolAnnotations as listed; None: none


Action = Annotated[
    FsRead | FsWrite | Exec | NetConnect | McpStart | McpCall, Field(discriminator="kind")
]

_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)


def parse_action(data: str | bytes | dict[str, Any]) -> Action:
    """Parse an action from JSON text or a dict; raise `PolicyInputError` on anything else."""
    if isinstance(data, str | bytes):
        if len(data) > MAX_ACTION_BYTES:
            raise PolicyInputError("action is larger than 4 MiB", "send a smaller action")
        try:
            data = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise PolicyInputError(
                f"action is not valid JSON: {exc}", "send one JSON object"
            ) from exc
    if not isinstance(data, dict):
        raise PolicyInputError("action must be a JSON object", 'e.g. {"kind":"fs.read","path":"a"}')
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'action'}: {e['msg']}" for e in exc.errors()
        )
        raise PolicyInputError(
            f"invalid action: {problems}",
            "kind is one of fs.read, fs.write, exec, net.connect, mcp.start, mcp.call",
        ) from exc
