"""The tool registry: one module per tool, listed here once."""

from __future__ import annotations

from agent.tools import edit_file, finish, grep, list_files, read_file, run, write_file
from agent.tools.base import Tool

TOOLS: dict[str, Tool] = {
    module.TOOL.name: module.TOOL
    for module in (read_file, write_file, edit_file, list_files, grep, run, finish)
}
