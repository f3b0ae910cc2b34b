"""Which MCP servers are configured, from the files people already have.

Read in this order (a later file's server of the same name replaces an earlier one):

1. the org's: `mcp.json` / `mcp.yaml` in the org policy folder;
2. the user's: `mcp.json` / `mcp.yaml` in the config folder;
3. the project's: `.mcp.json` / `.rempart/mcp.yaml` in the workspace, only once the user has
   trusted that exact file (`rempart policy trust`); a changed file is untrusted again.

`mcp.json` is the common `mcpServers` shape (stdio `command` + `args` + `env`, or `url` for
streamable HTTP); `mcp.yaml` is Rempart's own (`servers: {NAME: {command: [...], env}}`).
Whether a configured server may start, and with which network and workspace, is the
policy's (`mcp.servers`), never the configuration's.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from agent.errors import McpError

ORG_FILES = ("mcp.json", "mcp.yaml")
USER_FILES = ("mcp.json", "mcp.yaml")
PROJECT_FILES = (Path(".mcp.json"), Path(".rempart") / "mcp.yaml")
# the reference servers baked into the sandbox image (sandbox/image/mcp-servers.lock)
IMAGE_SERVERS = ("mcp-server-git", "mcp-server-fetch", "mcp-server-time")
IMAGE_BIN = "/opt/mcp/bin"


def image_command(argv: list[str]) -> list[str]:
    """`uvx mcp-server-git ...` / `pipx run ...` / `python -m mcp_server_git ...` name a
    reference server the image already has: run that one, offline."""
    if len(argv) >= 2 and argv[0] in ("uvx", "uv") and argv[1] != "tool":
        rest = argv[1:]
    elif len(argv) >= 3 and argv[:2] in (["pipx", "run"], ["uv", "run"]):
        rest = argv[2:]
    elif len(argv) >= 3 and argv[0].startswith("python") and argv[1] == "-m":
        rest = [argv[2].replace("_", "-"), *argv[3:]]
    else:
        return argv
    name = rest[0].split("==", 1)[0].split("@", 1)[0]
    return [f"{IMAGE_BIN}/{name}", *rest[1:]] if name in IMAGE_SERVERS else argv


class McpServerConfig(BaseModel):
    """One server: a command run in its own sandbox container, or a streamable HTTP url."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: list[str] = []
    env: dict[str, str] = {}
    cwd: str = "/workspace"
    url: str = ""
    source: str = ""  # the file it came from (for `rempart mcp list`)

    @field_validator("command")
    @classmethod
    def _image_server(cls, value: list[str]) -> list[str]:
        return image_command(value)

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if bool(self.command) == bool(self.url):
            raise ValueError("give either `command` (stdio) or `url` (streamable HTTP)")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url {self.url!r} is not http(s)")
        return self


class McpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    servers: dict[str, McpServerConfig] = {}
    skipped: list[str] = Field(default_factory=list)  # project files not used, and why


class _JsonServer(BaseModel):
    """One entry of `mcpServers` as editors write it (unknown keys such as `type`,
    `disabled` or `alwaysAllow` are tolerated, never obeyed)."""

    model_config = ConfigDict(extra="ignore")

    command: str = ""
    args: list[str] = []
    env: dict[str, str] = {}
    cwd: str = "/workspace"
    url: str = ""
    disabled: bool = False


def _from_json(data: Any, source: str) -> dict[str, McpServerConfig]:
    if not isinstance(data, dict) or not isinstance(data.get("mcpServers", {}), dict):
        raise ValueError("expected an object with `mcpServers: {NAME: {...}}`")
    out: dict[str, McpServerConfig] = {}
    for name, raw in data.get("mcpServers", {}).items():
        entry = _JsonServer.model_validate(raw)
        if entry.disabled:
            continue
        command = [entry.command, *entry.args] if entry.command else []
        out[str(name)] = McpServerConfig(
            command=command, env=entry.env, cwd=entry.cwd, url=entry.url, source=source
        )
    return out


def _from_yaml(data: Any, source: str) -> dict[str, McpServerConfig]:
    data = data or {}
    if not isinstance(data, dict) or set(data) - {"servers"}:
        raise ValueError("expected `servers: {NAME: {command: [...], env: {...}}}`")
    out: dict[str, McpServerConfig] = {}
    for name, raw in (data.get("servers") or {}).items():
        if not isinstance(raw, dict):
            raise ValueError(f"server {name!r}: expected a mapping")
        out[str(name)] = McpServerConfig.model_validate({**raw, "source": source})
    return out


def load_file(path: Path) -> dict[str, McpServerConfig]:
    """The servers one file configures (`{}` when it does not exist)."""
    if not path.is_file():
        return {}
    try:
        text = path.read_text()
        if path.suffix == ".json":
            return _from_json(json.loads(text), str(path))
        return _from_yaml(yaml.safe_load(text), str(path))
    except (OSError, ValueError, yaml.YAMLError, ValidationError) as exc:
        raise McpError(f"{path}: {exc}", hint="fix the MCP server configuration") from exc


def load_config(path: Path) -> McpConfig:
    """One file (kept for callers that name the file)."""
    return McpConfig(servers=load_file(path))


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def project_files(workspace: Path) -> list[Path]:
    return [(workspace / name).resolve() for name in PROJECT_FILES if (workspace / name).is_file()]


def load_all(
    org_dir: Path, config_dir: Path, workspace: Path | None, trusted: dict[str, str]
) -> McpConfig:
    """Org, user, then trusted project servers. `trusted` maps a resolved path to the
    sha256 the user trusted; a project file not in it, or changed since, is skipped."""
    servers: dict[str, McpServerConfig] = {}
    for name in ORG_FILES:
        servers.update(load_file(org_dir / name))
    for name in USER_FILES:
        servers.update(load_file(config_dir / name))
    skipped: list[str] = []
    for path in project_files(workspace) if workspace is not None else []:
        recorded = trusted.get(str(path))
        if recorded is None or recorded != file_digest(path):
            state = "has changed since you trusted it" if recorded else "is not trusted"
            skipped.append(
                f"{path} {state}: its MCP servers are not used "
                f"(read it, then `rempart policy trust --workspace {workspace}`)"
            )
            continue
        servers.update(load_file(path))
    return McpConfig(servers=servers, skipped=skipped)
