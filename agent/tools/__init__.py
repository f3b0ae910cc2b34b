"""The tool registry: one module per tool, listed here once."""

from __future__ import annotations

from agent.tools import (
    edit_file,
    finish,
    grep,
    list_files,
    read_file,
    rename_symbol,
    run,
    write_file,
)
from agent.tools.base import Tool

TOOLS: dict[str, Tool] = {
    module.TOOL.name: module.TOOL
    for module in (read_file, write_file, edit_file, rename_symbol, list_files, grep, run, finish)
}
AIDS_ONLY = frozenset({"rename_symbol"})  # offered only with the small-model aids on


def tools_for(aids: bool) -> dict[str, Tool]:
    """The built-in tools a session offers its model."""
    return {name: tool for name, tool in TOOLS.items() if aids or name not in AIDS_ONLY}
