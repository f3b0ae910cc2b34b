"""A tool is a typed function; its JSON schema comes from its signature and docstring.

    def read_file(ctx: ToolContext, path: str, start_line: int = 1) -> ToolOutput:
        '''Read a text file.

        Args:
            path: file path relative to the workspace.
        '''

`Tool.from_function(read_file, actions=...)` builds the argument model (pydantic, extra
keys forbidden), the OpenAI `tools` entry, and ties the call to the policy `Action`s it needs.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Protocol, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from policies import Action


class RunResultLike(Protocol):
    exit_code: int
    stdout: str
    stderr: str
    duration_ms: float
    timed_out: bool
    truncated: bool


class SandboxLike(Protocol):
    """What tools need of `sandbox.Sandbox`."""

    def run(
        self,
        cmd: str | list[str],
        cwd: str = ".",
        env: dict[str, str] | None = None,
        stdin: str | None = None,
        timeout_s: float | None = None,
        output_cap: int | None = None,
    ) -> Any: ...

    def read_file(self, path: str, offset: int = 0, limit: int | None = None) -> bytes: ...

    def write_file(self, path: str, data: bytes) -> object: ...

    def list_files(
        self, path: str = ".", pattern: str | None = None, recursive: bool = True
    ) -> list[str]: ...

    def stat(self, path: str) -> Any: ...


@dataclass
class ToolContext:
    sandbox: SandboxLike
    timeout_s: float = 120.0
    output_cap: int = 30_000
    files_read: set[str] = field(default_factory=set)
    aids: bool = True  # issue-12 aids for small models (off: the bench's comparison)
    # writes refused once and allowed when sent again as they were (the session's, shared)
    held: set[str] = field(default_factory=set)
    # each file's text when a tool first changed it in this session (None: it did not
    # exist): what the session is judged against, so a problem it added stays reported
    # until it is fixed, not only in the change that added it
    originals: dict[str, str | None] = field(default_factory=dict)
    # a tool that finds the files it changes while it runs (rename_symbol) puts each one to
    # the policy here: None when allowed, else the refusal; no policy to ask: nothing allowed
    authorise: Callable[[Action], str | None] | None = None


class ToolOutput(BaseModel):
    content: str
    is_error: bool = False
    exit_code: int | None = None
    duration_ms: float | None = None
    diff: str | None = None
    truncated: bool = False
    finished: bool = False
    repairs: list[str] = []  # what the tool fixed in the model's input (counted by the loop)
    again: bool = False  # refused once: the same call sent again is applied (a held write)


class ToolArgumentError(ValueError):
    """The model's arguments do not fit the tool: goes back to the model as an error."""


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Names small models use for our parameters; applied only when the tool lacks the alias itself.
ALIASES = {
    "file": "path",
    "filename": "path",
    "file_path": "path",
    "filepath": "path",
    "file_name": "path",
    "directory": "path",
    "dir": "path",
    "folder": "path",
    "contents": "content",
    "text": "content",
    "code": "content",
    "cmd": "command",
    "shell": "command",
    "old_text": "old",
    "old_str": "old",
    "new_text": "new",
    "new_str": "new",
    "pattern": "glob",
    "regex": "pattern",
    "query": "pattern",
    "message": "summary",
}

_ARG_LINE = re.compile(r"^\s{4,}(\w+):\s*(.+)$")


def _docstring_parts(doc: str) -> tuple[str, dict[str, str]]:
    """The summary and each argument's description (continuation lines joined)."""
    summary, _, rest = inspect.cleandoc(doc).partition("\nArgs:\n")
    described: dict[str, str] = {}
    current = ""
    for line in rest.splitlines():
        match = _ARG_LINE.match(line)
        if match and len(line) - len(line.lstrip()) == 4:
            current = match.group(1)
            described[current] = match.group(2).strip()
        elif current and line.strip():
            described[current] += " " + line.strip()
    return " ".join(summary.split()), described


WORKSPACE_MOUNT = "/workspace"


def workspace_path(raw: str) -> str:
    """Accept `src/a.py`, `./src/a.py` and `/workspace/src/a.py` alike; return it relative.

    Anything else absolute, or escaping with `..`, is the model's to fix.
    """
    text = raw.strip()
    if text in ("", ".", "/workspace", "/workspace/"):
        return "."
    if text.startswith(WORKSPACE_MOUNT + "/"):
        text = text[len(WORKSPACE_MOUNT) + 1 :]
    if text.startswith("/"):
        raise ToolArgumentError(
            f"{raw!r} is outside the workspace: use a path relative to the workspace root"
        )
    parts: list[str] = []
    for part in PurePosixPath(text).parts:
        if part == "..":
            if not parts:
                raise ToolArgumentError(f"{raw!r} escapes the workspace")
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts) or "."


class ToolLike(Protocol):
    """What the loop needs of a tool: a built-in `Tool` or an MCP server's `McpTool`."""

    @property
    def name(self) -> str: ...

    def schema(self) -> dict[str, Any]: ...

    def repair(self, arguments: dict[str, Any]) -> tuple[dict[str, Any], list[str]]: ...

    def parse(self, arguments: dict[str, Any]) -> BaseModel: ...

    def actions_for(self, args: BaseModel) -> list[Action]: ...

    def call(self, ctx: ToolContext, args: BaseModel) -> ToolOutput: ...


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args_model: type[BaseModel]
    run: Callable[..., ToolOutput]
    actions: Callable[[dict[str, Any]], list[Action]]

    @classmethod
    def from_function(
        cls, fn: Callable[..., ToolOutput], actions: Callable[[dict[str, Any]], list[Action]]
    ) -> Tool:
        summary, described = _docstring_parts(fn.__doc__ or fn.__name__)
        hints = get_type_hints(fn)
        fields: dict[str, Any] = {}
        for name, param in list(inspect.signature(fn).parameters.items())[1:]:
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[name] = (hints[name], Field(default, description=described.get(name, "")))
        model = create_model(f"{fn.__name__}_args", __base__=_Args, **fields)
        return cls(fn.__name__, summary, model, fn, actions)

    def schema(self) -> dict[str, Any]:
        params = self.args_model.model_json_schema()
        params.pop("title", None)
        for prop in params.get("properties", {}).values():
            prop.pop("title", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": params},
        }

    def repair(self, arguments: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Unambiguous fixes: drop unknown keys set to null, rename well-known aliases."""
        known = set(self.args_model.model_fields)
        fixed: dict[str, Any] = {}
        repairs: list[str] = []
        for key, value in arguments.items():
            target = ALIASES.get(key)
            if key in known:
                fixed[key] = value
            elif value is None:
                repairs.append(f"dropped unknown argument {key}=null")
            elif target in known and target not in arguments:
                fixed[target] = value
                repairs.append(f"read argument {key!r} as {target!r}")
            else:
                fixed[key] = value
        return fixed, repairs

    def parse(self, arguments: dict[str, Any]) -> BaseModel:
        try:
            return self.args_model.model_validate(arguments)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ToolArgumentError(f"bad arguments for {self.name}: {problems}") from exc

    def call(self, ctx: ToolContext, args: BaseModel) -> ToolOutput:
        return self.run(ctx, **dict(args))

    def actions_for(self, args: BaseModel) -> list[Action]:
        return self.actions(dict(args))
