"""MCP servers, run inside the session's sandbox, reached with the MCP SDK's stdio client.

A server never runs on the host: its transport is `docker exec -i` into the sandbox
container, so it gets exactly the sandbox's walls (the read view, no network or the egress proxy,
limits, non-root user). The SDK is async; the loop is sync: one asyncio loop runs in a
thread, and each server lives in one task that owns its session from start to close.

Servers come from `<config_dir>/mcp.yaml` (the user's, never the workspace's):

    servers:
      notes:
        command: ["python3", "/workspace/tools/notes_server.py"]
        env: {NOTES_DIR: /workspace/notes}
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import yaml
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.errors import McpError

START_TIMEOUT_S = 60.0


class McpServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    command: list[str] = Field(min_length=1)
    env: dict[str, str] = {}
    cwd: str = "/workspace"


class McpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    servers: dict[str, McpServerConfig] = {}


def load_config(path: Path) -> McpConfig:
    if not path.exists():
        return McpConfig()
    try:
        return McpConfig.model_validate(yaml.safe_load(path.read_text()) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        raise McpError(f"{path}: {exc}", hint="fix the MCP server configuration") from exc


class McpToolInfo(BaseModel):
    server: str
    name: str
    description: str
    input_schema: dict[str, Any]


Request = tuple[str, dict[str, Any], "Future[tuple[str, bool]]"]


class _Server:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Request | None] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None


class McpHub:
    """Starts servers in one container and calls their tools; use as a context manager."""

    def __init__(
        self,
        container_id: str,
        user: str,
        docker_cli: str = "docker",
        engine_args: tuple[str, ...] = (),  # `-H URL`: the sandbox's engine (sandbox.engines)
    ) -> None:
        self.container_id, self.user, self.docker_cli = container_id, user, docker_cli
        self.engine_args = engine_args
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._servers: dict[str, _Server] = {}

    def __enter__(self) -> McpHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _params(self, config: McpServerConfig) -> StdioServerParameters:
        args = [*self.engine_args, "exec", "-i", "-u", self.user, "-w", config.cwd]
        for key, value in config.env.items():
            args += ["-e", f"{key}={value}"]
        return StdioServerParameters(
            command=self.docker_cli, args=[*args, self.container_id, *config.command]
        )

    def start(self, name: str, config: McpServerConfig) -> list[McpToolInfo]:
        """Start one server inside the container; returns its tools."""
        ready: Future[list[McpToolInfo]] = Future()
        server = _Server()  # an asyncio.Queue binds to the loop on first use, not here

        async def create() -> None:
            server.task = asyncio.ensure_future(self._serve(name, config, server, ready))

        asyncio.run_coroutine_threadsafe(create(), self._loop).result(timeout=10)
        self._servers[name] = server
        try:
            return ready.result(timeout=START_TIMEOUT_S)
        except FutureTimeout as exc:
            raise McpError(f"MCP server {name!r} did not start in {START_TIMEOUT_S:.0f} s") from exc

    async def _serve(
        self,
        name: str,
        config: McpServerConfig,
        server: _Server,
        ready: Future[list[McpToolInfo]],
    ) -> None:
        try:
            async with stdio_client(self._params(config)) as streams:
                read, write = (
                    streams if isinstance(streams, tuple) else (streams.read, streams.write)
                )
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    listed = await session.list_tools()
                    ready.set_result(
                        [
                            McpToolInfo(
                                server=name,
                                name=tool.name,
                                description=tool.description or "",
                                input_schema=dict(tool.input_schema),
                            )
                            for tool in listed.tools
                        ]
                    )
                    while (item := await server.queue.get()) is not None:
                        tool, arguments, result = item
                        try:
                            outcome = await session.call_tool(tool, arguments)
                            result.set_result((_text(outcome.content), bool(outcome.is_error)))
                        except Exception as exc:  # the model sees every failure as a result
                            result.set_result((f"MCP error: {type(exc).__name__}: {exc}", True))
        except Exception as exc:  # reported to the caller and to pending calls
            error = McpError(f"MCP server {name!r} failed: {type(exc).__name__}: {exc}")
            if not ready.done():
                ready.set_exception(error)
            while not server.queue.empty():
                item = server.queue.get_nowait()
                if item is not None:
                    item[2].set_result((str(error), True))

    def call(
        self, server: str, tool: str, arguments: dict[str, Any], timeout_s: float
    ) -> tuple[str, bool]:
        """(text, is_error) of one tool call."""
        entry = self._servers.get(server)
        if entry is None or entry.task is None or entry.task.done():
            return f"MCP server {server!r} is not running", True
        result: Future[tuple[str, bool]] = Future()
        self._loop.call_soon_threadsafe(entry.queue.put_nowait, (tool, arguments, result))
        try:
            return result.result(timeout=timeout_s)
        except FutureTimeout:
            return f"MCP tool {server}.{tool} did not answer in {timeout_s:.0f} s", True

    def close(self) -> None:
        for server in self._servers.values():
            self._loop.call_soon_threadsafe(server.queue.put_nowait, None)
        tasks = [s.task for s in self._servers.values() if s.task is not None]
        if tasks:
            done = asyncio.run_coroutine_threadsafe(asyncio.wait(tasks, timeout=15), self._loop)
            done.result(timeout=20)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
        self._servers.clear()


def _text(content: list[Any]) -> str:
    parts = []
    for item in content:
        text = getattr(item, "text", None)
        parts.append(
            text if isinstance(text, str) else f"[{getattr(item, 'type', '?')} content omitted]"
        )
    return "\n".join(parts)
