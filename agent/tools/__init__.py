"""The tool registry: one module per tool, listed here once."""

from __future__ import annotations

import re

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
# offered only with the small-model aids on, and only to a task whose words ask for them
# (in the bench the 1.5B model renamed a function nobody asked it to rename, just because
# the tool was there)
AIDS_ONLY: dict[str, re.Pattern[str]] = {
    "rename_symbol": re.compile(r"\brenam(e|es|ed|ing)\b", re.IGNORECASE),
}


def tools_for(aids: bool, task: str) -> dict[str, Tool]:
    """The built-in tools a session offers its model for this task."""
    return {
        name: tool
        for name, tool in TOOLS.items()
        if name not in AIDS_ONLY or (aids and AIDS_ONLY[name].search(task))
    }
