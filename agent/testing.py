"""Fakes that tests need, shipped in the package so no test patches internals.

`ScriptedModelServer`: a real HTTP server speaking OpenAI chat-completions (streaming SSE
and plain JSON), replaying scripted replies in order (a plain request for `n` answers takes
the next `n` replies, one per choice). Each reply is a `Reply`: text and/or tool calls, or
a fault (`status` for an HTTP error, `die_mid_stream` to drop the connection).
Requests it received are kept in `.requests` for assertions. `hold_mid_stream` sends the
first chunks, says so (`on_hold`), then never ends the stream: run the server as its own
process (`python -m agent.testing SCRIPT.json`, printing its base URL, then `holding`
when a stream is held) to kill it mid-stream for real.

    with ScriptedModelServer([Reply.call("write_file", path="a.py", content="x")]) as server:
        ... Settings(model_base_url=server.base_url) ...

`isolated_env(root)`: the REMPART_* variables that put every folder Rempart uses under
`root`, so a test (or a subprocess it starts) never touches the person's own files.
`FakeSandbox`: the files of a workspace in memory and scripted command results, for loop
tests without a Docker engine. It honours the same protocol as `sandbox.Sandbox` (what the
tools and the runner use) and enforces nothing: never use it to test the wall.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import shlex
import sys
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import BaseModel

from sandbox.errors import SandboxRequestError
from sandbox.sandbox import FileEntry, RunResult


def isolated_env(root: Path) -> dict[str, str]:
    """Every folder Rempart reads or writes, under `root` (config, data, cache, state, run)."""
    return {
        "REMPART_DATA_DIR": str(root / "data"),
        "REMPART_CONFIG_DIR": str(root / "config"),
        "REMPART_CACHE_DIR": str(root / "cache"),
        "REMPART_STATE_DIR": str(root / "state"),
        "REMPART_RUNTIME_DIR": str(root / "run"),
        "REMPART_ORG_POLICY_DIR": str(root / "org"),
    }


class ScriptedCall(BaseModel):
    name: str
    arguments: str


class Reply(BaseModel):
    text: str = ""
    calls: list[ScriptedCall] = []
    status: int | None = None
    error_message: str = "scripted failure"  # with `status`: what the server says
    die_mid_stream: bool = False
    hold_mid_stream: bool = False
    prompt_tokens: int = 50
    completion_tokens: int = 10
    pieces: int = 1  # each call's arguments streamed in this many chunks
    finish_reason: str | None = None  # else tool_calls / stop

    @classmethod
    def call(cls, name: str, **arguments: Any) -> Reply:
        return cls(calls=[ScriptedCall(name=name, arguments=json.dumps(arguments))])

    @classmethod
    def raw_call(cls, name: str, arguments: str) -> Reply:
        return cls(calls=[ScriptedCall(name=name, arguments=arguments)])


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client closing a kept-alive connection is normal; anything else is printed
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ScriptedModelServer:
    def __init__(
        self,
        replies: list[Reply],
        model: str = "scripted-model",
        max_model_len: int = 8192,
        api_key: str | None = None,
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.on_hold: Callable[[], None] = lambda: None
        self._forever = threading.Event()
        self.replies = list(replies)
        self.model = model
        self.max_model_len = max_model_len
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> ScriptedModelServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def next_reply(self, request: dict[str, Any], again: bool = False) -> Reply:
        """The next scripted reply (`again`: another answer to a request already kept)."""
        with self._lock:
            if not again:
                self.requests.append(request)
            if not self.replies:
                return Reply.call("finish", summary="script exhausted")
            return self.replies.pop(0)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if server.api_key is None:
                    return True
                if self.headers.get("authorization") == f"Bearer {server.api_key}":
                    return True
                self._json(401, {"error": {"message": "invalid api key"}})
                return False

            def do_GET(self) -> None:
                if not self._authorised():
                    return
                if self.path.rstrip("/").endswith("/models"):
                    item = {
                        "id": server.model,
                        "object": "model",
                        "max_model_len": server.max_model_len,
                    }
                    self._json(200, {"object": "list", "data": [item]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                request = json.loads(self.rfile.read(length) or b"{}")
                if not self._authorised():
                    return
                reply = server.next_reply(request)
                if reply.status is not None:
                    self._json(
                        reply.status,
                        {"error": {"message": reply.error_message, "code": reply.status}},
                    )
                    return
                if request.get("stream"):
                    self._stream(reply)
                    return
                body = _completion(server.model, reply)
                for index in range(1, int(request.get("n") or 1)):  # one scripted reply each
                    more = _completion(server.model, server.next_reply(request, again=True))[
                        "choices"
                    ]
                    body["choices"].append({**more[0], "index": index})
                self._json(200, body)

            def _stream(self, reply: Reply) -> None:
                # chunked transfer encoding, so that dying mid-stream is a protocol error
                # for the client (an incomplete body), as with a crashed server
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for chunk in _chunks(server.model, reply):
                    self._chunk(f"data: {json.dumps(chunk)}\n\n".encode())
                    if reply.die_mid_stream:
                        self.close_connection = True
                        return
                    if reply.hold_mid_stream:
                        server.on_hold()
                        server._forever.wait()  # until the process is killed
                self._chunk(b"data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        return Handler


def _base(model: str) -> dict[str, Any]:
    return {"id": "chatcmpl-scripted", "created": int(time.time()), "model": model}


def _calls(reply: Reply) -> list[dict[str, Any]]:
    return [
        {
            "index": i,
            "id": f"call_{i}_{time.monotonic_ns()}",
            "type": "function",
            "function": {"name": c.name, "arguments": c.arguments},
        }
        for i, c in enumerate(reply.calls)
    ]


def _completion(model: str, reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if reply.calls:
        message["tool_calls"] = [
            {k: v for k, v in c.items() if k != "index"} for c in _calls(reply)
        ]
    usage = {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }
    finish = "tool_calls" if reply.calls else "stop"
    return {
        **_base(model),
        "object": "chat.completion",
        "usage": usage,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }


def _chunks(model: str, reply: Reply) -> list[dict[str, Any]]:
    base = {**_base(model), "object": "chat.completion.chunk"}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    if reply.text:
        half = len(reply.text) // 2
        for piece in (reply.text[:half], reply.text[half:]):
            chunks.append({**base, "choices": [{"index": 0, "delta": {"content": piece}}]})
    for call in _calls(reply):
        arguments = call["function"]["arguments"]
        size = -(-len(arguments) // reply.pieces) or 1
        parts = [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]
        first = {**call, "function": {**call["function"], "arguments": parts[0]}}
        chunks.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [first]}}]})
        for part in parts[1:]:
            more = {"index": call["index"], "function": {"arguments": part}}
            chunks.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [more]}}]})
    finish = reply.finish_reason or ("tool_calls" if reply.calls else "stop")
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    usage = {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }
    chunks.append({**base, "choices": [], "usage": usage})
    return chunks


class FakeSandbox:
    """A workspace in memory; `run` answers from `commands` (keyed by the shell string),
    else exit 127. Records every command in `.ran` and every write in `.written`."""

    user = "1000:1000"
    container_id = "fake-sandbox"

    def __init__(
        self,
        files: dict[str, str | bytes] | None = None,
        commands: dict[str, RunResult] | None = None,
    ) -> None:
        self.files = {
            path: data.encode() if isinstance(data, str) else data
            for path, data in (files or {}).items()
        }
        self.commands = dict(commands or {})
        self.ran: list[str] = []
        self.written: list[str] = []
        self.closed = False

    @staticmethod
    def result(exit_code: int = 0, stdout: str = "", stderr: str = "") -> RunResult:
        return RunResult(
            exit_code=exit_code,
            stdout=stdout,
            stderr=stderr,
            duration_ms=1.0,
            timed_out=False,
            truncated=False,
        )

    def run(
        self,
        cmd: str | list[str],
        cwd: str = ".",
        env: dict[str, str] | None = None,
        stdin: str | None = None,
        timeout_s: float | None = None,
        output_cap: int | None = None,
    ) -> RunResult:
        key = cmd if isinstance(cmd, str) else shlex.join(cmd)
        self.ran.append(key)
        found = self.commands.get(key)
        if found is not None:
            return found
        return self.result(127, stderr=f"{key}: not scripted in this FakeSandbox\n")

    def read_file(self, path: str, offset: int = 0, limit: int | None = None) -> bytes:
        if path not in self.files:
            raise SandboxRequestError("not_found", f"no such file: {path}")
        data = self.files[path][offset:]
        return data if limit is None else data[:limit]

    def write_file(self, path: str, data: bytes) -> None:
        self.files[path] = data
        self.written.append(path)

    def _folders(self) -> set[str]:
        folders: set[str] = set()
        for path in self.files:
            parts = path.split("/")[:-1]
            folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return folders

    def list_files(
        self, path: str = ".", pattern: str | None = None, recursive: bool = True
    ) -> list[str]:
        """Like the executor's `list`: workspace-relative, folders with a trailing `/`."""
        prefix = "" if path in (".", "") else path.rstrip("/") + "/"
        if prefix and prefix[:-1] not in self._folders():
            raise SandboxRequestError("not_a_directory", f"not a directory: {path}")
        names = [*self.files, *(f + "/" for f in self._folders())]
        out = []
        for name in names:
            rest = name[len(prefix) :]
            if not name.startswith(prefix) or not rest:
                continue
            if not recursive and "/" in rest.rstrip("/"):
                continue
            target = name.rstrip("/") if "/" in (pattern or "") else rest.rstrip("/").split("/")[-1]
            if pattern is None or fnmatch.fnmatchcase(target, pattern):
                out.append(name)
        return sorted(out)

    def stat(self, path: str) -> FileEntry:
        if path in self.files:
            size = len(self.files[path])
            return FileEntry(path=path, exists=True, type="file", size=size, readable=True)
        if path in self._folders() or path == ".":
            return FileEntry(path=path, exists=True, type="dir", readable=True)
        return FileEntry(path=path, exists=False)

    def egress_events(self) -> list[Any]:
        return []

    def close(self) -> None:
        self.closed = True


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a script (a JSON list of replies) until killed; print the base URL first."""
    parser = argparse.ArgumentParser(prog="python -m agent.testing", description=__doc__)
    parser.add_argument("script", help="JSON file: a list of Reply objects")
    parser.add_argument("--model", default="scripted-model")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    replies = [Reply.model_validate(r) for r in json.loads(Path(args.script).read_text())]
    server = ScriptedModelServer(replies, model=args.model, port=args.port)
    server.on_hold = lambda: print("holding", flush=True)
    print(server.base_url, flush=True)
    server._server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
