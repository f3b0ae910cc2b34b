"""The policy file format v1 as strict pydantic models (the public contract of issue 3)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from policies.model import DecisionKind, RuntimeKind

POLICY_FORMAT_VERSION = 1  # the `version:` every policy and tests file declares
_CFG = ConfigDict(strict=True, extra="forbid", frozen=True)


class Examples(BaseModel):
    """Inputs that must (`match`) and must not (`not_match`) match the rule; checked on load."""

    model_config = _CFG
    match: list[str] = []
    not_match: list[str] = []


class GlobToken(BaseModel):
    """One argv token matched by a shell-style glob (`*`, `?`, `[...]`)."""

    model_config = _CFG
    glob: str = Field(min_length=1, max_length=256)


class RegexToken(BaseModel):
    """One argv token matched (fully) by a regular expression without nested quantifiers."""

    model_config = _CFG
    regex: str = Field(min_length=1, max_length=256)


Token = str | GlobToken | RegexToken


class ExecRule(BaseModel):
    """An argv-prefix rule: `"*"` is one token, `"**"` any number (also none)."""

    model_config = _CFG
    match: list[Token] = Field(min_length=1, max_length=64)
    decision: DecisionKind
    reason: str | None = None
    exact: bool = False
    examples: Examples | None = None


class PathRule(BaseModel):
    """A path glob with an optional reason and examples (a bare string is the same, shorter)."""

    model_config = _CFG
    path: str = Field(min_length=1, max_length=1024)
    reason: str | None = None
    examples: Examples | None = None


PathEntry = str | PathRule


class PathLists(BaseModel):
    model_config = _CFG
    allow: list[PathEntry] = []
    ask: list[PathEntry] = []
    deny: list[PathEntry] = []


class Files(BaseModel):
    model_config = _CFG
    read: PathLists = PathLists()
    write: PathLists = PathLists()


class HostRule(BaseModel):
    """A `host[:port]` pattern with an optional reason and examples."""

    model_config = _CFG
    host: str = Field(min_length=1, max_length=300)
    reason: str | None = None
    examples: Examples | None = None


HostEntry = str | HostRule


class Network(BaseModel):
    """Host patterns `host[:port]`; `*.example.com` is subdomains only; the rest is denied."""

    model_config = _CFG
    allow: list[HostEntry] = []
    ask: list[HostEntry] = []
    deny: list[HostEntry] = []


class McpServer(BaseModel):
    """Whether the server may start, and its own container's walls: the hosts it may
    reach (none by default; the policy's `network` is the agent's, not the server's) and
    how it sees the workspace (`ro`: a copy whose changes never reach the host)."""

    model_config = _CFG
    decision: DecisionKind
    reason: str | None = None
    network: list[HostEntry] = []
    workspace: Literal["none", "ro", "rw"] = "ro"


class ArgSpec(BaseModel):
    """Constraints on one argument of an MCP tool call; all that are given must hold."""

    model_config = _CFG
    glob: str | None = Field(default=None, min_length=1, max_length=256)
    regex: str | None = Field(default=None, min_length=1, max_length=256)
    min: float | None = None
    max: float | None = None
    required: bool = False
    # the value names files: judged as fs.read / fs.write (`true`: read, and write unless
    # the tool is read-only), or as a git revision (`REV:PATH` reads PATH); `false`: not a
    # path (unflagged strings that name a read-protected path are judged as reads)
    path: bool | Literal["read", "write", "revision"] | None = None


class ToolHints(BaseModel):
    """The tool's effective MCP annotations the rule applies to (all given must hold)."""

    model_config = _CFG
    read_only: bool | None = None
    destructive: bool | None = None
    idempotent: bool | None = None
    open_world: bool | None = None


class McpExample(BaseModel):
    """One call for an MCP tool rule's examples."""

    model_config = _CFG
    tool: str = Field(min_length=1, max_length=300)
    arguments: dict[str, Any] = {}
    annotations: dict[str, Any] | None = None


McpExampleEntry = str | McpExample


class McpExamples(BaseModel):
    """Calls (`server.tool`, or `{tool, arguments, annotations}`) that must (not) match."""

    model_config = _CFG
    match: list[McpExampleEntry] = []
    not_match: list[McpExampleEntry] = []


class McpToolRule(BaseModel):
    """`server.tool` glob (`*` any characters), optionally narrowed by annotations and
    argument constraints."""

    model_config = _CFG
    match: str = Field(min_length=1, max_length=256)
    decision: DecisionKind
    reason: str | None = None
    when: ToolHints | None = None
    arguments: dict[str, ArgSpec] = Field(default={}, max_length=64)
    allowed_keys: list[str] | None = Field(default=None, max_length=256)
    examples: McpExamples | None = None


class Mcp(BaseModel):
    model_config = _CFG
    servers: dict[str, McpServer] = {}
    tools: list[McpToolRule] = []


class LimitsSpec(BaseModel):
    """Limits as written; unset fields do not take part in the strictest merge."""

    model_config = _CFG
    cpus: float | None = Field(default=None, gt=0, le=1024)
    memory: str | None = Field(default=None, pattern=r"^[0-9]+(\.[0-9]+)?[bkmgtBKMGT]?$")
    pids: int | None = Field(default=None, gt=0, le=1_000_000)
    timeout_s: float | None = Field(default=None, gt=0, le=86_400)
    output_bytes: int | None = Field(default=None, gt=0, le=1 << 30)
    disk: str | None = Field(default=None, pattern=r"^[0-9]+(\.[0-9]+)?[bkmgtBKMGT]?$")


class SandboxSpec(BaseModel):
    model_config = _CFG
    env: list[str] = Field(default=[], max_length=256)
    # unset: this layer does not take part; the strictest asked wins (runc < gvisor)
    runtime: RuntimeKind | None = None


class PolicyTest(BaseModel):
    """One test: an action (as in `policy eval`) and the decision it must get."""

    model_config = _CFG
    action: dict[str, Any]
    expect: DecisionKind
    name: str | None = None


class PolicyFile(BaseModel):
    """A whole policy file."""

    model_config = _CFG
    version: Literal[1]
    name: str | None = None
    description: str | None = None
    default: DecisionKind | None = None
    exec_dynamic: Literal["ask", "deny"] | None = None
    lock: bool = False
    files: Files = Files()
    exec: list[ExecRule] = []
    network: Network = Network()
    mcp: Mcp = Mcp()
    limits: LimitsSpec = LimitsSpec()
    sandbox: SandboxSpec = SandboxSpec()
    tests: list[PolicyTest] = []


class TestsFile(BaseModel):
    """A tests file (`*.tests.yaml`): the policy files to load, in layer order, and the tests."""

    model_config = _CFG
    version: Literal[1] = 1
    policies: list[str] = []
    tests: list[PolicyTest] = Field(min_length=1)
