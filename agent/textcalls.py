"""Text tool-call fallback, for models without native tool calling (and for stray text calls).

The model is asked to write each call as
    <tool_call>
    {"name": "write_file", "arguments": {"path": "a.py", "content": "..."}}
    </tool_call>
and we parse exactly that (also in a ```json fence, which small Qwen models write when
`tool_choice=auto`). Anything that is not such an object with a string `name` and an object
`arguments` is not a call. This module is the only place that reads calls out of prose.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agent.messages import ToolCallRequest

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.S)
_FENCED = re.compile(r"```(?:json|tool_call)?\s*\n(.*?)\n\s*```", re.S)
_DECODER = json.JSONDecoder()
MAX_TEXT = 200_000


def instructions(tools: list[dict[str, Any]]) -> str:
    """The system-prompt section that teaches the format."""
    lines = [json.dumps(tool["function"]) for tool in tools]
    return (
        "# Tools\nYou act only through these tools:\n"
        + "\n".join(lines)
        + "\n\nTo call a tool, answer with exactly one block and nothing after it:\n"
        '<tool_call>\n{"name": "TOOL_NAME", "arguments": {...}}\n</tool_call>\n'
        "Every answer must contain one tool call. Call finish when the task is done."
    )


def _candidates(text: str) -> list[str]:
    tagged = _TAGGED.findall(text)
    if tagged:
        return list(tagged)
    fenced = _FENCED.findall(text)
    if fenced:
        return list(fenced)
    start = text.find("{")
    return [text[start:]] if start >= 0 else []


def parse(text: str) -> list[ToolCallRequest]:
    calls: list[ToolCallRequest] = []
    for index, block in enumerate(_candidates(text[:MAX_TEXT])):
        try:
            value, _ = _DECODER.raw_decode(block.strip())
        except json.JSONDecodeError:
            continue
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            continue
        arguments = value.get("arguments", value.get("parameters", {}))
        if isinstance(arguments, str):
            raw = arguments
        elif isinstance(arguments, dict):
            raw = json.dumps(arguments)
        else:
            continue
        calls.append(ToolCallRequest(id=f"text_call_{index}", name=value["name"], arguments=raw))
    return calls
