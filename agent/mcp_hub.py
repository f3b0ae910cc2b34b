"""MCP servers, each in its own sandbox container, reached with the MCP SDK's stdio client.

A server never runs on the host: its transport is `docker exec -i` into the server's own
sandbox (`agent.mcp_boxes`: the agent's hardening, the server's network and workspace from
the policy). The SDK is async; the loop is sync: one asyncio loop runs in a thread, and
each server lives in one task that owns its session from start to close.

A call that does not answer in time is reported and its server is killed (its container
removed): a hung server cannot hold the session. Results are cleaned and capped
(`agent.mcp_untrusted`) before anyone sees them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from pydantic import BaseModel

from agent.errors import McpError
from agent.mcp_config import IMAGE_BIN, McpServerConfig, load_config
from agent.mcp_untrusted import capped, structured_text
from sandbox.egress import EgressEvent
from sandbox.engines import cli_args
from sandbox.sandbox import Sandbox

START_TIMEOUT_S = 60.0
SERVER_PATH = f"{IMAGE_BIN}:/usr/local/bin:/usr/bin:/bin"
# the image's trust store (it holds the host's CAs): Python clients in /opt/mcp would
# otherwise use certifi's bundle and fail behind a TLS-inspecting gateway
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# a streamable HTTP server is reached from inside its sandbox, through its egress proxy
BRIDGE = [f"{IMAGE_BIN}/python", "/opt/rempart/mcp_bridge.py"]
SERVER_ENV = {"PATH": SERVER_PATH, "SSL_CERT_FILE": CA_BUNDLE, "REQUESTS_CA_BUNDLE": CA_BUNDLE}
log = logging.getLogger(__name__)

__all__ = ["McpHub", "McpResult", "McpToolInfo", "load_config"]


class McpToolInfo(BaseModel):
    server: str
    name: str
    description: str
    input_schema: dict[str, Any]
    annotations: dict[str, Any] | None = None  # MCP ToolAnnotations, as the server sent them
    flags: list[str] = []  # what `agent.mcp_untrusted.scan_definition` found, with where

    @property
    def qualified(self) -> str:
        return f"{self.server}.{self.name}"


class McpResult(BaseModel):
    text: str
    is_error: bool
    cut: bool = False  # the result was over the size cap
    killed: bool = False  # the server hung and was stopped


Request = tuple[str, dict[str, Any], "Future[McpResult]"]


class _Server:
    def __init__(self, box: Sandbox | None, writes: bool) -> None:
        self.queue: asyncio.Queue[Request | None] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.box = box
        self.writes = writes  # sync the box's changes to the host after each call (rw)
        self.killed = False


class McpHub:
    """Starts servers in their own containers and calls their tools; a context manager."""

    def __init__(self, docker_cli: str = "docker") -> None:
        self.docker_cli = docker_cli
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._servers: dict[str, _Server] = {}
        # each stopped server's egress proxy log (connection attempts), for the audit log
        self.egress: dict[str, list[EgressEvent]] = {}

    def __enter__(self) -> McpHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _params(
        self, config: McpServerConfig, container_id: str, user: str, engine_args: list[str]
    ) -> StdioServerParameters:
        args = [*engine_args, "exec", "-i", "-u", user, "-w", config.cwd]
        for key, value in {**SERVER_ENV, **config.env}.items():
            args += ["-e", f"{key}={value}"]
        argv = [*BRIDGE, config.url] if config.url else config.command
        return StdioServerParameters(command=self.docker_cli, args=[*args, container_id, *argv])

    def start(
        self, name: str, config: McpServerConfig, box: Sandbox, writes: bool = False
    ) -> list[McpToolInfo]:
        """Start one server in `box` (started; the hub closes it); returns its tools."""
        ready: Future[list[McpToolInfo]] = Future()
        server = _Server(box, writes)  # an asyncio.Queue binds to the loop on first use
        # the docker CLI's way to the engine the box was placed on (sandbox.engines)
        params = self._params(config, box.container_id, box.user, cli_args(box.engine))

        async def create() -> None:
            server.task = asyncio.ensure_future(self._serve(name, params, server, ready))

        asyncio.run_coroutine_threadsafe(create(), self._loop).result(timeout=10)
        self._servers[name] = server
        try:
            return ready.result(timeout=START_TIMEOUT_S)
        except FutureTimeout as exc:
            self.kill(name)
            raise McpError(f"MCP server {name!r} did not start in {START_TIMEOUT_S:.0f} s") from exc
        except McpError:
            self.kill(name)
            raise

    async def _serve(
        self,
        name: str,
        params: StdioServerParameters,
        server: _Server,
        ready: Future[list[McpToolInfo]],
    ) -> None:
        try:
            async with stdio_client(params) as streams:
                read, write = (
                    streams if isinstance(streams, tuple) else (streams.read, streams.write)
                )
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    listed = await session.list_tools()
                    ready.set_result([_info(name, tool) for tool in listed.tools])
                    while (item := await server.queue.get()) is not None:
                        tool, arguments, result = item
                        try:
                            outcome = await session.call_tool(tool, arguments)
                            result.set_result(_result(outcome))
                        except Exception as exc:  # the model sees every failure as a result
                            text = f"MCP error: {type(exc).__name__}: {exc}"
                            result.set_result(McpResult(text=text, is_error=True))
        except Exception as exc:  # reported to the caller and to pending calls
            error = McpError(f"MCP server {name!r} failed: {_why(exc)}")
            if not ready.done():
                ready.set_exception(error)
            while not server.queue.empty():
                item = server.queue.get_nowait()
                if item is not None and not item[2].done():
                    item[2].set_result(McpResult(text=str(error), is_error=True))

    def running(self, server: str) -> bool:
        entry = self._servers.get(server)
        if entry is None or entry.killed or entry.task is None:
            return False
        return not entry.task.done()

    def call(
        self, server: str, tool: str, arguments: dict[str, Any], timeout_s: float
    ) -> McpResult:
        """One tool call; a server that does not answer within `timeout_s` is killed."""
        entry = self._servers.get(server)
        if entry is None or not self.running(server):
            return McpResult(text=f"MCP server {server!r} is not running", is_error=True)
        result: Future[McpResult] = Future()
        self._loop.call_soon_threadsafe(entry.queue.put_nowait, (tool, arguments, result))
        try:
            outcome = result.result(timeout=timeout_s)
        except FutureTimeout:
            self.kill(server)
            text = (
                f"MCP tool {server}.{tool} did not answer in {timeout_s:g} s: "
                f"server {server!r} was stopped (its container removed)"
            )
            return McpResult(text=text, is_error=True, killed=True)
        if entry.writes and entry.box is not None:
            report = entry.box.sync()  # an rw server's changes, judged like the agent's
            if report.refused:
                outcome = outcome.model_copy(update={"text": f"{outcome.text}\n{report.summary()}"})
        return outcome

    def kill(self, server: str) -> None:
        """Stop one server at once: its container goes, so its exec and session end."""
        entry = self._servers.get(server)
        if entry is None:
            return
        entry.killed = True
        if entry.box is not None:
            with contextlib.suppress(Exception):  # best effort: close() retries the rest
                entry.box.close()
            self.egress[server] = entry.box.egress_events()  # kept by the closed sandbox
            entry.box = None
        if entry.task is not None:
            self._loop.call_soon_threadsafe(entry.task.cancel)

    def close(self) -> None:
        for server in self._servers.values():
            self._loop.call_soon_threadsafe(server.queue.put_nowait, None)
        tasks = [s.task for s in self._servers.values() if s.task is not None]
        if tasks:
            done = asyncio.run_coroutine_threadsafe(asyncio.wait(tasks, timeout=15), self._loop)
            try:
                done.result(timeout=20)
            except FutureTimeout:
                log.warning("MCP servers did not stop in time; their containers are removed")
        for name in list(self._servers):
            self.kill(name)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
        self._servers.clear()


def _why(exc: BaseException) -> str:
    """The first real error inside the SDK's exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def _info(server: str, tool: Any) -> McpToolInfo:
    annotations = getattr(tool, "annotations", None)
    return McpToolInfo(
        server=server,
        name=tool.name,
        description=tool.description or "",
        input_schema=dict(tool.input_schema),
        # as on the wire (readOnlyHint, destructiveHint, ...): the policy's names
        annotations=annotations.model_dump(by_alias=True, exclude_none=True)
        if annotations
        else None,
    )


def _result(outcome: Any) -> McpResult:
    parts = []
    for item in outcome.content:
        text = getattr(item, "text", None)
        parts.append(
            text if isinstance(text, str) else f"[{getattr(item, 'type', '?')} content omitted]"
        )
    if outcome.structured_content is not None and not parts:
        parts.append(structured_text(outcome.structured_content))
    text, cut = capped("\n".join(parts))
    return McpResult(text=text, is_error=bool(outcome.is_error), cut=cut)
