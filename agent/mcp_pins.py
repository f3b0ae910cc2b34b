"""Tool pinning: what a person approved of each MCP tool, and what changed since (rug pull).

`<config_dir>/mcp-pins.json` holds, per `server.tool`, the sha256 of its name, description,
input schema and annotations, and that definition itself (to show a diff). A tool whose
definition no longer matches is disabled until it is pinned again (`rempart mcp pin`).

On a session's first sight of a server (its start approved by the policy or a person), its
tools are pinned as they are, except those whose definition `agent.mcp_untrusted`
flags (any string of the description, input schema or annotations): those wait for a
person (`rempart mcp pin SERVER`, which shows the findings and where they are).

Names: every tool is `server.tool`; a name with characters outside `[A-Za-z0-9_.-]`, or one
that collides with another tool once made a model tool name, or that reuses the name of a
built-in tool or of another server's tool (shadowing), is refused.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from agent.errors import McpError
from agent.mcp_hub import McpToolInfo
from agent.mcp_untrusted import scan_definition
from agent.tools.mcp_tool import tool_name

PINS_FILE = "mcp-pins.json"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class Pin(BaseModel):
    sha256: str
    definition: dict[str, Any]
    approved_at: float
    flags: list[str] = []  # the findings a person saw when pinning


def definition(info: McpToolInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "description": info.description,
        "input_schema": info.input_schema,
        "annotations": info.annotations,
    }


def digest(info: McpToolInfo) -> str:
    text = json.dumps(definition(info), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def findings(info: McpToolInfo, others: list[str]) -> list[str]:
    """What the scan finds anywhere in a tool's definition (`others`: names of other tools)."""
    return scan_definition(definition(info), [n for n in others if n != info.name])


def diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    """A unified diff of two tool definitions (pretty JSON, escaped)."""
    a = json.dumps(old, indent=2, sort_keys=True, ensure_ascii=True).splitlines()
    b = json.dumps(new, indent=2, sort_keys=True, ensure_ascii=True).splitlines()
    return "\n".join(difflib.unified_diff(a, b, "pinned", "now", lineterm="", n=1))


@dataclass
class Vetted:
    """One server's tools, sorted: usable, waiting for a person, refused outright."""

    usable: list[McpToolInfo] = field(default_factory=list)
    pinned_now: list[McpToolInfo] = field(default_factory=list)  # first sight, pinned
    changed: dict[str, str] = field(default_factory=dict)  # server.tool -> diff
    waiting: dict[str, list[str]] = field(default_factory=dict)  # for a person: findings
    refused: dict[str, str] = field(default_factory=dict)  # server.tool -> why


class Pins:
    """The pin file; every write replaces it whole (a crash leaves the old one)."""

    def __init__(self, config_dir: Path) -> None:
        self.path = config_dir / PINS_FILE
        self.pins: dict[str, Pin] = {}
        if self.path.exists():
            try:
                raw = json.loads(self.path.read_text())
                self.pins = {str(k): Pin.model_validate(v) for k, v in raw.items()}
            except (OSError, ValueError, ValidationError, AttributeError) as exc:
                raise McpError(
                    f"{self.path}: {exc}",
                    hint="fix or remove the file (then pin the servers again)",
                ) from exc

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {k: v.model_dump() for k, v in sorted(self.pins.items())}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".mcp-pins-")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
        os.replace(tmp, self.path)

    def pin(self, info: McpToolInfo, flags: list[str]) -> None:
        self.pins[info.qualified] = Pin(
            sha256=digest(info), definition=definition(info), approved_at=time.time(), flags=flags
        )

    def status(self, info: McpToolInfo) -> str:
        """`new`, `pinned` or `changed`."""
        pin = self.pins.get(info.qualified)
        if pin is None:
            return "new"
        return "pinned" if pin.sha256 == digest(info) else "changed"

    def vet(
        self,
        infos: list[McpToolInfo],
        taken: dict[str, str],
        others: list[str],
        auto_pin: bool = True,
    ) -> Vetted:
        """Sort one server's tools. `taken` maps names already in use (model tool names and
        bare names of built-in and other servers' tools) to their owner; `others` are the
        names a description must not give orders about. New, unflagged tools are pinned
        (and the file saved) when `auto_pin`."""
        out = Vetted()
        for info in infos:
            key = info.qualified
            if not _NAME.match(info.name):
                out.refused[key] = f"tool name {info.name!r} has characters outside [A-Za-z0-9_.-]"
                continue
            owner = taken.get(tool_name(info.server, info.name)) or taken.get(info.name)
            if owner is not None:
                out.refused[key] = f"shadows {owner}: a tool's name must be its own"
                continue
            state = self.status(info)
            flags = findings(info, others)
            if state == "changed":
                out.changed[key] = diff(self.pins[key].definition, definition(info))
                if flags:
                    out.changed[key] += "\nFLAGGED now: " + "; ".join(flags)
                continue
            info = info.model_copy(update={"flags": flags})
            if state == "new":
                if flags or not auto_pin:
                    out.waiting[key] = flags
                    continue
                self.pin(info, flags)
                out.pinned_now.append(info)
            taken[tool_name(info.server, info.name)] = f"MCP tool {key}"
            taken[info.name] = f"MCP tool {key}"
            out.usable.append(info)
        if out.pinned_now:
            self.save()
        return out
